package storetest

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var userTests = []subtest{
	{"CreateGet", testUserCreateGet},
	{"OptionalFieldsEmpty", testUserEmptyFields},
	{"Conflicts", testUserConflicts},
	{"UnknownRole", testUserUnknownRole},
	{"Update", testUserUpdate},
	{"UpdateConflictsAndNotFound", testUserUpdateErrors},
	{"Delete", testUserDelete},
	{"ListFilters", testUserListFilters},
	{"ListOrderAndPages", testUserListPages},
	{"ListByEffectiveStatus", testUserListEffectiveStatus},
	{"ListSorted", testUserListSorted},
	{"ListPagesWhileInserting", testUserListPagesWhileInserting},
	{"ListDefaultLimit", testUserListDefaultLimit},
	{"NoAliasing", testUserNoAliasing},
	{"IPRulesAndSessionLimit", testUserIPRulesAndSessionLimit},
}

func testUserCreateGet(f *fixture) {
	u := f.newUser()
	u.Roles = []string{"viewer", "manager"}
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	want := u
	want.Roles = []string{"manager", "viewer"} // a set: sorted by name

	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("GetUser", got, want)

	for _, name := range []string{u.Username, strings.ToUpper(u.Username)} {
		got, err := f.s.GetUserByUsername(f.ctx, name)
		f.must(err, "GetUserByUsername %q", name)
		f.equal("GetUserByUsername "+name, got, want)
	}
	// The email is stored as given and found whatever its case.
	for _, email := range []string{u.Email, strings.ToLower(u.Email), strings.ToUpper(u.Email)} {
		got, err := f.s.GetUserByEmail(f.ctx, email)
		f.must(err, "GetUserByEmail %q", email)
		f.equal("GetUserByEmail "+email, got, want)
	}
	// The id is a UUID: its uppercase spelling names the same user.
	got, err = f.s.GetUser(f.ctx, strings.ToUpper(u.ID))
	f.must(err, "GetUser by uppercase UUID")
	if got.ID != u.ID {
		f.t.Errorf("GetUser by uppercase UUID: ID = %q, want %q", got.ID, u.ID)
	}
}

func testUserEmptyFields(f *fixture) {
	u := f.newUser()
	u.Goals = nil
	u.Preferences = nil
	u.Roles = nil
	u.LastLoginAt = nil
	u.ExpiresAt = nil
	u.LockedUntil = nil
	u.FailedLogins = 0
	u.FullName, u.Department, u.PasswordHash = "", "", ""
	u.Status = store.StatusPending
	u.EmailVerified = false
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	want := u
	want.Preferences = json.RawMessage(`{}`) // nil means {}
	f.equal("user with empty fields", got, want)

	// An empty (non-nil) preferences value also means {}.
	u2 := f.newUser()
	u2.Preferences = json.RawMessage{}
	f.must(f.s.CreateUser(f.ctx, u2), "CreateUser with empty preferences")
	got, err = f.s.GetUser(f.ctx, u2.ID)
	f.must(err, "GetUser")
	if !sameJSON(got.Preferences, []byte(`{}`)) {
		f.t.Errorf("Preferences = %q, want {}", got.Preferences)
	}
}

func testUserConflicts(f *fixture) {
	u := f.createUser()
	cases := []struct {
		name string
		edit func(*store.User)
	}{
		{"same id", func(v *store.User) { v.ID = u.ID }},
		{"same username", func(v *store.User) { v.Username = u.Username }},
		{"username differing in case", func(v *store.User) { v.Username = strings.ToUpper(u.Username) }},
		{"same email", func(v *store.User) { v.Email = u.Email }},
		{"email differing in case", func(v *store.User) { v.Email = strings.ToLower(u.Email) }},
	}
	for _, tc := range cases {
		v := f.newUser()
		tc.edit(&v)
		f.wantErr(f.s.CreateUser(f.ctx, v), store.ErrConflict, "CreateUser with %s", tc.name)
		if v.ID != u.ID {
			_, err := f.s.GetUser(f.ctx, v.ID)
			f.wantErr(err, store.ErrNotFound, "GetUser of the refused user (%s)", tc.name)
		}
	}
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("user after refused duplicates", got, u)
	list, err := f.s.ListUsers(f.ctx, store.UserFilter{})
	f.must(err, "ListUsers")
	if len(list) != 1 {
		f.t.Errorf("ListUsers returned %d users, want 1", len(list))
	}
}

func testUserUnknownRole(f *fixture) {
	u := f.newUser()
	u.Roles = []string{"user", "no-such-role"}
	f.wantErr(f.s.CreateUser(f.ctx, u), store.ErrNotFound, "CreateUser with an unknown role")
	// Nothing of the refused user is left behind.
	_, err := f.s.GetUser(f.ctx, u.ID)
	f.wantErr(err, store.ErrNotFound, "GetUser of the refused user")
	u.Roles = []string{"user"}
	f.wantErr(f.s.CreateUser(f.ctx, u), nil, "CreateUser again with known roles")
}

func testUserUpdate(f *fixture) {
	u := f.createUser()
	f.must(f.s.CreateRole(f.ctx, store.Role{Name: "trader", CreatedAt: f.now, UpdatedAt: f.now}), "CreateRole")
	upd := store.User{
		ID:            u.ID,
		Username:      u.Username + "-renamed",
		Email:         "New.Address@example.org",
		PasswordHash:  "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		FullName:      "Grace Hopper",
		Department:    "Navy",
		Goals:         []string{"debug"},
		Preferences:   json.RawMessage(`{"theme":"light"}`),
		Status:        store.StatusLocked,
		Roles:         []string{"trader", "admin"},
		EmailVerified: false,
		CreatedAt:     f.at(-10000 * time.Hour), // not replaced
		UpdatedAt:     f.now,
		LastLoginAt:   nil,
		ExpiresAt:     f.atPtr(time.Hour),
		FailedLogins:  4,
		LockedUntil:   f.atPtr(15 * time.Minute),
	}
	f.must(f.s.UpdateUser(f.ctx, upd), "UpdateUser")
	want := upd
	want.CreatedAt = u.CreatedAt
	want.Roles = []string{"admin", "trader"}
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("updated user", got, want)

	// The old username and email are free again, the new ones taken.
	_, err = f.s.GetUserByUsername(f.ctx, u.Username)
	f.wantErr(err, store.ErrNotFound, "GetUserByUsername old name")
	_, err = f.s.GetUserByEmail(f.ctx, u.Email)
	f.wantErr(err, store.ErrNotFound, "GetUserByEmail old email")
	got, err = f.s.GetUserByEmail(f.ctx, "new.address@EXAMPLE.org")
	f.must(err, "GetUserByEmail new email")
	f.equal("user by new email", got, want)

	// Changing only the case of one's own email is no conflict.
	upd.Email = "new.address@example.org"
	f.wantErr(f.s.UpdateUser(f.ctx, upd), nil, "UpdateUser changing the case of the own email")

	// Roles are replaced, down to none.
	upd.Roles = nil
	f.must(f.s.UpdateUser(f.ctx, upd), "UpdateUser without roles")
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("roles after removing all", got.Roles, []string{})
}

func testUserUpdateErrors(f *fixture) {
	a := f.createUser()
	b := f.createUser()

	cases := []struct {
		name string
		edit func(*store.User)
		want error
	}{
		{"username of another", func(v *store.User) { v.Username = a.Username }, store.ErrConflict},
		{"username of another in capitals", func(v *store.User) { v.Username = strings.ToUpper(a.Username) }, store.ErrConflict},
		{"email of another", func(v *store.User) { v.Email = a.Email }, store.ErrConflict},
		{"email of another in lowercase", func(v *store.User) { v.Email = strings.ToLower(a.Email) }, store.ErrConflict},
		{"unknown role", func(v *store.User) { v.Roles = []string{"admin", "no-such-role"} }, store.ErrNotFound},
		{"unknown id", func(v *store.User) { v.ID = uuid.NewString() }, store.ErrNotFound},
		{"id that is no UUID", func(v *store.User) { v.ID = "not-a-uuid" }, store.ErrNotFound},
	}
	for _, tc := range cases {
		v := b
		v.FullName = "Changed By " + tc.name
		tc.edit(&v)
		f.wantErr(f.s.UpdateUser(f.ctx, v), tc.want, "UpdateUser with %s", tc.name)
	}
	// Refused updates change nothing.
	for _, u := range []store.User{a, b} {
		got, err := f.s.GetUser(f.ctx, u.ID)
		f.must(err, "GetUser")
		f.equal("user after refused updates", got, u)
	}
}

func testUserDelete(f *fixture) {
	u := f.createUser()
	other := f.createUser()
	f.must(f.s.DeleteUser(f.ctx, u.ID), "DeleteUser")
	_, err := f.s.GetUser(f.ctx, u.ID)
	f.wantErr(err, store.ErrNotFound, "GetUser after delete")
	_, err = f.s.GetUserByUsername(f.ctx, u.Username)
	f.wantErr(err, store.ErrNotFound, "GetUserByUsername after delete")
	_, err = f.s.GetUserByEmail(f.ctx, u.Email)
	f.wantErr(err, store.ErrNotFound, "GetUserByEmail after delete")
	f.wantErr(f.s.DeleteUser(f.ctx, u.ID), store.ErrNotFound, "DeleteUser twice")
	f.wantErr(f.s.DeleteUser(f.ctx, "not-a-uuid"), store.ErrNotFound, "DeleteUser with an id that is no UUID")
	_, err = f.s.GetUser(f.ctx, "not-a-uuid")
	f.wantErr(err, store.ErrNotFound, "GetUser with an id that is no UUID")
	_, err = f.s.GetUser(f.ctx, other.ID)
	f.wantErr(err, nil, "GetUser of another user after delete")

	// The username and email are free again.
	again := f.newUser()
	again.Username, again.Email = u.Username, u.Email
	f.wantErr(f.s.CreateUser(f.ctx, again), nil, "CreateUser reusing a deleted user's name")
}

// afterName is the cursor of the username order after the username ("":
// the first page).
func afterName(username string) *store.UserKey {
	if username == "" {
		return nil
	}
	return &store.UserKey{Username: username}
}

func usernames(users []store.User) []string {
	names := []string{}
	for _, u := range users {
		names = append(names, u.Username)
	}
	return names
}

func testUserListFilters(f *fixture) {
	f.must(f.s.CreateRole(f.ctx, store.Role{Name: "analyst", CreatedAt: f.now, UpdatedAt: f.now}), "CreateRole")
	mk := func(username, email, fullName string, status store.UserStatus, roles ...string) store.User {
		u := f.newUser()
		u.Username, u.Email, u.FullName, u.Status, u.Roles = username, email, fullName, status, roles
		f.must(f.s.CreateUser(f.ctx, u), "CreateUser %s", username)
		return u
	}
	alice := mk("alice", "alice@example.com", "Alice Liddell", store.StatusActive, "admin", "analyst")
	mk("bob", "bob@Wonderland.example", "Robert Smith", store.StatusPending)
	mk("carol_ops", "carol@example.com", "Carol Jones", store.StatusLocked, "viewer")
	mk("dave", "dave@example.com", "Dave Wonder", store.StatusActive, "analyst")
	mk("erin-x", "erin@example.com", "Erin 100% Real", store.StatusDisabled, "user")

	cases := []struct {
		name   string
		filter store.UserFilter
		want   []string
	}{
		{"no filter", store.UserFilter{}, []string{"alice", "bob", "carol_ops", "dave", "erin-x"}},
		{"query in username", store.UserFilter{Query: "LIC"}, []string{"alice"}},
		{"query in email, any case", store.UserFilter{Query: "wonderland"}, []string{"bob"}},
		{"query in full name", store.UserFilter{Query: "jones"}, []string{"carol_ops"}},
		{"query across fields", store.UserFilter{Query: "wonder"}, []string{"bob", "dave"}},
		{"query with LIKE wildcard _ is literal", store.UserFilter{Query: "_"}, []string{"carol_ops"}},
		{"query with LIKE wildcard % is literal", store.UserFilter{Query: "0% real"}, []string{"erin-x"}},
		{"query with LIKE wildcard % matching nothing", store.UserFilter{Query: "1%r"}, nil},
		{"query with backslash", store.UserFilter{Query: `\`}, nil},
		{"query without match", store.UserFilter{Query: "zzz"}, nil},
		{"status", store.UserFilter{Status: store.StatusActive}, []string{"alice", "dave"}},
		{"role", store.UserFilter{Role: "analyst"}, []string{"alice", "dave"}},
		{"role no one has", store.UserFilter{Role: "manager"}, nil},
		{"role and status", store.UserFilter{Role: "viewer", Status: store.StatusLocked}, []string{"carol_ops"}},
		{"query, status and role", store.UserFilter{Query: "example.com", Status: store.StatusActive, Role: "admin"}, []string{"alice"}},
		{"limit", store.UserFilter{Limit: 2}, []string{"alice", "bob"}},
		{"after", store.UserFilter{After: afterName("bob")}, []string{"carol_ops", "dave", "erin-x"}},
		{"after a name that does not exist", store.UserFilter{After: afterName("c")}, []string{"carol_ops", "dave", "erin-x"}},
		{"after and limit", store.UserFilter{After: afterName("alice"), Limit: 2}, []string{"bob", "carol_ops"}},
		{"after the last", store.UserFilter{After: afterName("erin-x")}, nil},
		{"status filter with after", store.UserFilter{Status: store.StatusActive, After: afterName("alice")}, []string{"dave"}},
	}
	for _, tc := range cases {
		got, err := f.s.ListUsers(f.ctx, tc.filter)
		if err != nil {
			f.t.Errorf("ListUsers %s: %v", tc.name, err)
			continue
		}
		f.equal("ListUsers "+tc.name, usernames(got), tc.want)
	}
	// Listed users carry every field.
	got, err := f.s.ListUsers(f.ctx, store.UserFilter{Query: "alice"})
	f.must(err, "ListUsers")
	if len(got) == 1 {
		want := alice
		want.Roles = []string{"admin", "analyst"}
		f.equal("listed user", got[0], want)
	}
}

// The Status filter is the effective status at the filter's Now, the rule
// of store.User.EffectiveStatus: an expiry at or before Now makes a pending
// or active user expired, and leaves locked and disabled users as they are.
// Now keeps nanoseconds the backend cannot store, so the boundary case
// checks that a backend compares as the Go rule does.
func testUserListEffectiveStatus(f *fixture) {
	now := f.now.Truncate(time.Microsecond).Add(500 * time.Nanosecond)
	at := func(d time.Duration) *time.Time { t := now.Truncate(time.Microsecond).Add(d); return &t }
	byStatus := map[store.UserStatus][]string{}
	for _, tc := range []struct {
		username  string
		status    store.UserStatus
		expiresAt *time.Time
		effective store.UserStatus
	}{
		{"a-active", store.StatusActive, nil, store.StatusActive},
		{"b-active-later", store.StatusActive, at(time.Microsecond), store.StatusActive},
		{"c-active-past", store.StatusActive, at(-time.Hour), store.StatusExpired},
		{"d-active-at-now", store.StatusActive, at(0), store.StatusExpired},
		{"e-pending-past", store.StatusPending, at(-time.Minute), store.StatusExpired},
		{"f-pending-later", store.StatusPending, at(time.Hour), store.StatusPending},
		{"g-locked-past", store.StatusLocked, at(-time.Hour), store.StatusLocked},
		{"h-disabled-past", store.StatusDisabled, at(-time.Hour), store.StatusDisabled},
		{"i-active-past", store.StatusActive, at(-48 * time.Hour), store.StatusExpired},
	} {
		u := f.newUser()
		u.Username, u.Email, u.Status, u.ExpiresAt = tc.username, tc.username+"@example.com", tc.status, tc.expiresAt
		f.must(f.s.CreateUser(f.ctx, u), "CreateUser %s", tc.username)
		if got := u.EffectiveStatus(now); got != tc.effective {
			f.t.Errorf("%s: EffectiveStatus = %s, want %s", tc.username, got, tc.effective)
		}
		byStatus[tc.effective] = append(byStatus[tc.effective], tc.username)
	}
	for _, st := range []store.UserStatus{store.StatusPending, store.StatusActive, store.StatusLocked, store.StatusDisabled, store.StatusExpired} {
		got, err := f.s.ListUsers(f.ctx, store.UserFilter{Status: st, Now: now})
		f.must(err, "ListUsers status %s", st)
		f.equal("ListUsers status "+string(st), usernames(got), byStatus[st])
		for _, u := range got {
			if u.EffectiveStatus(now) != st {
				f.t.Errorf("ListUsers status %s returned %s, whose effective status is %s", st, u.Username, u.EffectiveStatus(now))
			}
		}
	}
	// Pages of one: the filter is applied before the limit, so every page
	// is full and the cursor walks exactly the expired users.
	var walked []string
	after := ""
	for range 10 {
		got, err := f.s.ListUsers(f.ctx, store.UserFilter{Status: store.StatusExpired, Now: now, After: afterName(after), Limit: 1})
		f.must(err, "ListUsers expired after %q", after)
		if len(got) == 0 {
			break
		}
		walked = append(walked, usernames(got)...)
		after = got[0].Username
	}
	f.equal("expired users walked one page at a time", walked, byStatus[store.StatusExpired])
	// A day earlier, nobody had expired but the one past for two days.
	got, err := f.s.ListUsers(f.ctx, store.UserFilter{Status: store.StatusExpired, Now: now.Add(-24 * time.Hour)})
	f.must(err, "ListUsers expired a day earlier")
	f.equal("expired a day earlier", usernames(got), []string{"i-active-past"})
}

// Pages follow byte order of usernames and the After cursor walks them
// without gaps or repeats.
func testUserListPages(f *fixture) {
	names := []string{"a.b", "a_c", "a-d", "ab", "a0", "b", "zz", "a.a"}
	for _, n := range names {
		u := f.newUser()
		u.Username = n
		u.Email = "x" + strings.NewReplacer(".", "dot", "_", "us", "-", "dash").Replace(n) + "@example.com"
		f.must(f.s.CreateUser(f.ctx, u), "CreateUser %q", n)
	}
	want := []string{"a-d", "a.a", "a.b", "a0", "a_c", "ab", "b", "zz"}
	all, err := f.s.ListUsers(f.ctx, store.UserFilter{})
	f.must(err, "ListUsers")
	f.equal("ListUsers order", usernames(all), want)

	var walked []string
	after := ""
	for page := 0; page < 10; page++ {
		got, err := f.s.ListUsers(f.ctx, store.UserFilter{After: afterName(after), Limit: 3})
		f.must(err, "ListUsers page %d", page)
		if len(got) > 3 {
			f.t.Fatalf("page %d has %d users, limit 3", page, len(got))
		}
		if len(got) == 0 {
			break
		}
		walked = append(walked, usernames(got)...)
		after = got[len(got)-1].Username
	}
	f.equal("users walked by pages", walked, want)
}

// createUsersAt stores one user per creation time, with usernames that do
// not follow that order, and returns them.
func (f *fixture) createUsersAt(prefix string, times []time.Time) []store.User {
	f.t.Helper()
	var out []store.User
	for i, at := range times {
		u := f.newUser()
		u.Username = fmt.Sprintf("%s%02d", prefix, (i*7)%len(times))
		u.Email = u.Username + "@example.com"
		u.CreatedAt = at
		f.must(f.s.CreateUser(f.ctx, u), "CreateUser %s", u.Username)
		out = append(out, u)
	}
	return out
}

// byKey sorts users as ListUsers must in the order: created_at to the
// microsecond, then id (canonical UUIDs compare as their bytes).
func byKey(users []store.User, sort store.UserSort, order store.SortOrder) []string {
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b store.User) int {
		c := strings.Compare(a.Username, b.Username)
		if sort == store.SortByCreatedAt {
			if c = a.CreatedAt.Truncate(time.Microsecond).Compare(b.CreatedAt.Truncate(time.Microsecond)); c == 0 {
				c = strings.Compare(a.ID, b.ID)
			}
		}
		if order == store.OrderDesc {
			c = -c
		}
		return c
	})
	return usernames(sorted)
}

// walk pages through f's order limit users at a time, with the cursor each
// page's last user gives.
func (f *fixture) walk(filter store.UserFilter, limit int) []store.User {
	f.t.Helper()
	var out []store.User
	filter.Limit = limit
	for page := 0; page < 1000; page++ {
		got, err := f.s.ListUsers(f.ctx, filter)
		f.must(err, "ListUsers page %d", page)
		if len(got) > limit {
			f.t.Fatalf("page %d has %d users, limit %d", page, len(got), limit)
		}
		if len(got) == 0 {
			return out
		}
		out = append(out, got...)
		k := got[len(got)-1].Key()
		filter.After = &k
	}
	f.t.Fatal("pages do not end")
	return nil
}

// Users sorted by creation time, either way, with ties: several users made
// in one microsecond (and times with nanoseconds the backend drops) are
// ordered by id, and a cursor between two of them neither skips nor
// repeats one.
func testUserListSorted(f *fixture) {
	base := f.now.Truncate(time.Second)
	var times []time.Time
	for i := range 12 {
		// Four instants, three users each; the nanoseconds differ and
		// are dropped.
		times = append(times, base.Add(time.Duration(i%4)*time.Millisecond+time.Duration(i)*time.Nanosecond))
	}
	users := f.createUsersAt("s", times)
	for _, tc := range []struct {
		sort  store.UserSort
		order store.SortOrder
	}{
		{"", ""}, {store.SortByUsername, store.OrderAsc}, {store.SortByUsername, store.OrderDesc},
		{store.SortByCreatedAt, ""}, {store.SortByCreatedAt, store.OrderAsc}, {store.SortByCreatedAt, store.OrderDesc},
	} {
		name := fmt.Sprintf("sort %q order %q", tc.sort, tc.order)
		want := byKey(users, tc.sort, tc.order)
		all, err := f.s.ListUsers(f.ctx, store.UserFilter{Sort: tc.sort, Order: tc.order})
		f.must(err, "ListUsers %s", name)
		f.equal("ListUsers "+name, usernames(all), want)
		for _, limit := range []int{1, 2, 5} {
			f.equal(fmt.Sprintf("%s walked %d at a time", name, limit),
				usernames(f.walk(store.UserFilter{Sort: tc.sort, Order: tc.order}, limit)), want)
		}
	}
	// A cursor of the created_at order names a place, not a user: one that
	// no user has still splits the order there.
	newest := byKey(users, store.SortByCreatedAt, store.OrderDesc)
	got, err := f.s.ListUsers(f.ctx, store.UserFilter{Sort: store.SortByCreatedAt, Order: store.OrderDesc,
		After: &store.UserKey{CreatedAt: base.Add(2 * time.Millisecond), ID: "ffffffff-ffff-ffff-ffff-ffffffffffff"}})
	f.must(err, "ListUsers before a made-up key")
	f.equal("newest first before a made-up key", usernames(got), newest[3:])

	for _, bad := range []store.UserFilter{{Sort: "email"}, {Order: "up"}, {Sort: store.SortByCreatedAt, After: &store.UserKey{ID: "not-a-uuid"}}} {
		if _, err := f.s.ListUsers(f.ctx, bad); err == nil {
			f.t.Errorf("ListUsers %+v: no error", bad)
		}
	}
}

// Paging by creation time while other users are being created, some at the
// very instants of existing ones: every user that existed before the first
// page is seen exactly once, and no user twice.
func testUserListPagesWhileInserting(f *fixture) {
	base := f.now.Truncate(time.Second)
	var times []time.Time
	for i := range 40 {
		times = append(times, base.Add(time.Duration(i%8)*time.Millisecond))
	}
	existing := f.createUsersAt("e", times)

	for _, order := range []store.SortOrder{store.OrderAsc, store.OrderDesc} {
		stop := make(chan struct{})
		errs := make(chan error, 1)
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				// Bounded, so that the walk newest first (which meets the
				// users made below its cursor) ends.
				for i := range 30 {
					select {
					case <-stop:
						return
					default:
					}
					u := f.newUser()
					u.Username = fmt.Sprintf("n%s%d-%d-%d", order, w, i, len(existing))
					u.Email = u.Username + "@example.com"
					// At an existing instant (a tie, broken by a random
					// id), between two, or after the last.
					u.CreatedAt = base.Add(time.Duration(i%17) * time.Millisecond / 2)
					if err := f.s.CreateUser(f.ctx, u); err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
				}
			})
		}
		walked := f.walk(store.UserFilter{Sort: store.SortByCreatedAt, Order: order}, 3)
		close(stop)
		wg.Wait()
		select {
		case err := <-errs:
			f.t.Fatalf("concurrent CreateUser: %v", err)
		default:
		}

		seen := map[string]int{}
		for _, u := range walked {
			seen[u.ID]++
		}
		for id, n := range seen {
			if n > 1 {
				f.t.Errorf("order %s: user %s listed %d times", order, id, n)
			}
		}
		for _, u := range existing {
			if seen[u.ID] != 1 {
				f.t.Errorf("order %s: existing user %s listed %d times, want once", order, u.Username, seen[u.ID])
			}
		}
		if !slices.IsSortedFunc(walked, func(a, b store.User) int {
			c := a.CreatedAt.Compare(b.CreatedAt)
			if c == 0 {
				c = strings.Compare(a.ID, b.ID)
			}
			if order == store.OrderDesc {
				c = -c
			}
			return c
		}) {
			f.t.Errorf("order %s: the pages are not in (created_at, id) order", order)
		}
	}
}

func testUserListDefaultLimit(f *fixture) {
	for i := range 101 {
		u := f.newUser()
		u.Username = fmt.Sprintf("user%03d", i)
		u.Email = u.Username + "@example.com"
		f.must(f.s.CreateUser(f.ctx, u), "CreateUser %d", i)
	}
	got, err := f.s.ListUsers(f.ctx, store.UserFilter{})
	f.must(err, "ListUsers")
	if len(got) != 100 {
		f.t.Fatalf("ListUsers with Limit 0 returned %d users, want 100", len(got))
	}
	if got[0].Username != "user000" || got[99].Username != "user099" {
		f.t.Errorf("ListUsers first/last = %s/%s, want user000/user099", got[0].Username, got[99].Username)
	}
	got, err = f.s.ListUsers(f.ctx, store.UserFilter{After: afterName("user099")})
	f.must(err, "ListUsers after user099")
	f.equal("last page", usernames(got), []string{"user100"})
}

func testUserNoAliasing(f *fixture) {
	u := f.newUser()
	want := f.newUser()
	want.ID, want.Username, want.Email = u.ID, u.Username, u.Email
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	u.Goals[0] = "changed"
	u.Roles[0] = "admin"
	u.Preferences[0] = ' '
	*u.LastLoginAt = f.now.Add(time.Hour)
	*u.LockedUntil = f.now.Add(time.Hour)

	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("user after changing the input", got, want)
	got.Goals[0] = "changed"
	got.Roles[0] = "admin"
	got.Preferences[0] = ' '
	*got.ExpiresAt = f.now
	*got.LockedUntil = f.now
	list, err := f.s.ListUsers(f.ctx, store.UserFilter{})
	f.must(err, "ListUsers")
	if len(list) != 1 {
		f.t.Fatalf("ListUsers returned %d users, want 1", len(list))
	}
	f.equal("user after changing a copy read out", list[0], want)
}

// testUserIPRulesAndSessionLimit: the address rules round-trip in order,
// IPv4 and IPv6, single addresses as /32 and /128; an update replaces and
// clears them; the session limit tells nil (the server default) from 0 (no
// limit).
func testUserIPRulesAndSessionLimit(f *fixture) {
	u := f.newUser()
	u.IPAllow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("192.0.2.7/32")}
	u.IPDeny = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("2001:db8::1/128")}
	limit := 3
	u.SessionLimit = &limit
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	want := u
	want.Roles = []string{"user"}
	want.IPAllow, want.IPDeny = slices.Clone(u.IPAllow), slices.Clone(u.IPDeny)
	wantLimit := limit
	want.SessionLimit = &wantLimit
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	f.equal("user with IP rules", got, want)
	got, err = f.s.GetUserByUsername(f.ctx, u.Username)
	f.must(err, "GetUserByUsername")
	f.equal("user with IP rules by username", got, want)

	// The caller's slices are not the store's.
	u.IPAllow[0] = netip.MustParsePrefix("0.0.0.0/0")
	limit = 99
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after changing the caller's slices")
	f.equal("user after changing the caller's slices", got, want)

	upd := got
	upd.IPAllow = nil
	upd.IPDeny = []netip.Prefix{netip.MustParsePrefix("::/0")}
	zero := 0
	upd.SessionLimit = &zero
	f.must(f.s.UpdateUser(f.ctx, upd), "UpdateUser")
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after update")
	f.equal("user with updated IP rules", got, upd)
	if len(got.IPAllow) != 0 || got.SessionLimit == nil || *got.SessionLimit != 0 {
		f.t.Errorf("after update: allow %v, session limit %v; want none and 0", got.IPAllow, got.SessionLimit)
	}

	upd.IPDeny, upd.SessionLimit = nil, nil
	f.must(f.s.UpdateUser(f.ctx, upd), "UpdateUser clearing")
	got, err = f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser after clearing")
	if len(got.IPAllow)+len(got.IPDeny) != 0 || got.SessionLimit != nil {
		f.t.Errorf("after clearing: allow %v, deny %v, session limit %v; want none, none, nil", got.IPAllow, got.IPDeny, got.SessionLimit)
	}
}
