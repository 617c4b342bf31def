package storetest

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// The writes that change what a user may do are announced to the store's
// TokenObservers (store.ChangeUser, store.ChangeGroup), as revocations of
// access tokens are: the resource API's principal cache drops what they
// name. A write that fails announces nothing.
var principalChangeTests = []subtest{
	{"UserAndGroupWritesAreObserved", testPrincipalChangesObserved},
	{"OnlyAccessChangingUserUpdatesAreObserved", testUserUpdatesObservedOnlyWhenAccessChanges},
}

// changeLog records what a TokenObserver is told.
type changeLog struct {
	mu     sync.Mutex
	events []store.ChangeEvent
}

func (l *changeLog) add(e store.ChangeEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns what was recorded since the last take.
func (l *changeLog) take() []store.ChangeEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

func testPrincipalChangesObserved(f *fixture) {
	o, ok := f.s.(store.TokenObserver)
	if !ok {
		f.t.Fatalf("%T does not implement store.TokenObserver", f.s)
	}
	log := &changeLog{}
	o.ObserveTokenChanges(log.add)
	u := f.createUser()
	g := f.createGroup("observed", "viewer")
	log.take() // creations need not be announced: nothing cached them

	want := func(what string, e store.ChangeEvent) {
		f.t.Helper()
		if got := log.take(); !slices.Contains(got, e) {
			f.t.Errorf("%s: observers were told %v, want %v among them", what, got, e)
		}
	}
	user := store.ChangeEvent{Kind: store.ChangeUser, ID: u.ID}
	group := store.ChangeEvent{Kind: store.ChangeGroup, ID: g.ID}

	locked := u
	locked.Status = store.StatusLocked
	f.must(f.s.UpdateUser(f.ctx, locked), "UpdateUser")
	want("UpdateUser", user)

	f.must(f.iam.AddGroupMember(f.ctx, g.ID, u.ID), "AddGroupMember")
	want("AddGroupMember", user)
	f.must(f.iam.RemoveGroupMember(f.ctx, g.ID, u.ID), "RemoveGroupMember")
	want("RemoveGroupMember", user)

	g.Roles = []string{"manager"}
	f.must(f.iam.UpdateGroup(f.ctx, g), "UpdateGroup")
	want("UpdateGroup", group)

	bulk := locked
	bulk.Status = store.StatusActive
	f.must(f.s.PutUsers(f.ctx, []store.BulkUser{{User: bulk}}), "PutUsers")
	if got := log.take(); !slices.Contains(got, user) && !slices.Contains(got, store.ChangeEvent{Kind: store.ChangeUser}) {
		f.t.Errorf("PutUsers: observers were told %v, want the user's change or every user's", got)
	}

	f.must(f.iam.DeleteGroup(f.ctx, g.ID), "DeleteGroup")
	want("DeleteGroup", group)

	// Failed writes announce nothing.
	missing := f.newUser()
	if err := f.s.UpdateUser(f.ctx, missing); err == nil {
		f.t.Fatal("UpdateUser of a user never created succeeded")
	}
	if err := f.iam.RemoveGroupMember(f.ctx, g.ID, u.ID); err == nil {
		f.t.Fatal("RemoveGroupMember of a deleted group succeeded")
	}
	if got := log.take(); len(got) != 0 {
		f.t.Errorf("failed writes told the observers %v", got)
	}
}

// UpdateUser announces ChangeUser only when the write changes what the user
// may do (store.UserAccessChanged): status, account expiry, roles and
// their expiries, deny list, IP rules. A profile, email or password edit
// tells the observers nothing, on either store; inside a transaction, as
// outside.
func testUserUpdatesObservedOnlyWhenAccessChanges(f *fixture) {
	o, ok := f.s.(store.TokenObserver)
	if !ok {
		f.t.Fatalf("%T does not implement store.TokenObserver", f.s)
	}
	log := &changeLog{}
	o.ObserveTokenChanges(log.add)
	created := f.createUser()
	cur, err := f.s.GetUser(f.ctx, created.ID)
	f.must(err, "GetUser")
	log.take()
	user := store.ChangeEvent{Kind: store.ChangeUser, ID: cur.ID}

	later := f.at(30 * 24 * time.Hour)
	steps := []struct {
		name     string
		edit     func(*store.User)
		announce bool
	}{
		{"nothing changed", func(*store.User) {}, false},
		{"profile", func(u *store.User) {
			u.FullName, u.GivenName, u.FamilyName, u.Department = "Ada King", "Ada", "King", "Engines"
			u.Goals, u.Preferences = []string{"finish the notes"}, json.RawMessage(`{"theme": "light"}`)
			u.PhoneNumber, u.Locale, u.Zoneinfo, u.Picture = "+441234567890", "en-GB", "Europe/London", "https://img.example/ada.png"
		}, false},
		{"username and email", func(u *store.User) {
			u.Username, u.Email = u.Username+"-k", "k-"+u.Email
		}, false},
		{"password", func(u *store.User) { u.PasswordHash = "$2a$04$zyxwvutsrqponmlkjihgfeu5Jz1bS8x3kq0m7dD0yQ1xkY8aW1pS2" }, false},
		{"sign-in bookkeeping", func(u *store.User) {
			now, until := f.at(0), f.at(time.Minute)
			u.LastLoginAt, u.FailedLogins, u.LockedUntil, u.UpdatedAt = &now, 5, &until, now
		}, false},
		{"break glass and session limit", func(u *store.User) {
			n := 3
			u.BreakGlass, u.SessionLimit = true, &n
		}, false},
		{"locked", func(u *store.User) { u.Status = store.StatusLocked }, true},
		{"active again", func(u *store.User) { u.Status = store.StatusActive }, true},
		{"account expiry", func(u *store.User) { u.ExpiresAt = &later }, true},
		{"role added", func(u *store.User) { u.Roles = []string{"manager", "user"} }, true},
		{"same roles, another order", func(u *store.User) { u.Roles = []string{"user", "manager"} }, false},
		{"role time-boxed", func(u *store.User) { u.RoleExpiry = map[string]time.Time{"manager": later} }, true},
		{"role's expiry moved", func(u *store.User) { u.RoleExpiry = map[string]time.Time{"manager": later.Add(time.Hour)} }, true},
		{"role taken away", func(u *store.User) { u.Roles, u.RoleExpiry = []string{"user"}, nil }, true},
		{"permission denied", func(u *store.User) { u.DeniedPermissions = []string{"tokens:self"} }, true},
		{"allow rule", func(u *store.User) { u.IPAllow = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} }, true},
		{"deny rule", func(u *store.User) { u.IPDeny = []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32")} }, true},
	}
	for _, step := range steps {
		step.edit(&cur)
		f.must(f.s.UpdateUser(f.ctx, cur), "UpdateUser (%s)", step.name)
		got := log.take()
		switch {
		case step.announce && !slices.Equal(got, []store.ChangeEvent{user}):
			f.t.Errorf("%s: observers were told %v, want %v", step.name, got, user)
		case !step.announce && len(got) != 0:
			f.t.Errorf("%s: observers were told %v, want nothing: no cache holds what changed", step.name, got)
		}
		// What was written is what is read back, announced or not.
		back, err := f.s.GetUser(f.ctx, cur.ID)
		f.must(err, "GetUser (%s)", step.name)
		roles := slices.Sorted(slices.Values(cur.Roles))
		if back.FullName != cur.FullName || back.Status != cur.Status || !slices.Equal(back.Roles, roles) {
			f.t.Errorf("%s: read back %s, %s, %v; wrote %s, %s, %v", step.name,
				back.FullName, back.Status, back.Roles, cur.FullName, cur.Status, roles)
		}
		cur = back
	}

	// Inside a transaction, the same decision.
	f.must(store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		u, err := f.s.GetUserForUpdate(ctx, cur.ID)
		if err != nil {
			return err
		}
		u.FullName = "Augusta Ada King"
		return f.s.UpdateUser(ctx, u)
	}), "profile edit in a transaction")
	if got := log.take(); len(got) != 0 {
		f.t.Errorf("profile edit in a transaction: observers were told %v, want nothing", got)
	}
	f.must(store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		u, err := f.s.GetUserForUpdate(ctx, cur.ID)
		if err != nil {
			return err
		}
		u.Status = store.StatusDisabled
		return f.s.UpdateUser(ctx, u)
	}), "status change in a transaction")
	if got := log.take(); !slices.Equal(got, []store.ChangeEvent{user}) {
		f.t.Errorf("status change in a transaction: observers were told %v, want %v", got, user)
	}
}
