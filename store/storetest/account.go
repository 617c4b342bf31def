package storetest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// What the account pages and the console need of the store: a user's
// remembered consents, revoking a user's grants (all, or one client's),
// and a read of a user that holds it for a read-modify-write.

var accountTests = []subtest{
	{"ListConsents", testListConsents},
	{"RevokeGrantsByUser", testRevokeGrantsByUser},
	{"GetUserForUpdate", testGetUserForUpdate},
	{"GetUserForUpdateSerializesEdits", testGetUserForUpdateSerializes},
}

func testListConsents(f *fixture) {
	u, other := f.createUser(), f.createUser()
	got, err := f.s.ListConsents(f.ctx, u.ID, f.now)
	f.must(err, "ListConsents before any")
	if got == nil || len(got) != 0 {
		f.t.Errorf("ListConsents before any = %#v, want an empty list", got)
	}

	// Saved in an order other than the listing's, one expired, one of
	// another user.
	b, a, gone := f.createClient(), f.createClient(), f.createClient()
	if a.ID > b.ID {
		a, b = b, a
	}
	consB := store.Consent{UserID: u.ID, ClientID: b.ID, Scopes: []string{"openid", "email"}, GrantedAt: f.at(-time.Hour)}
	consA := store.Consent{UserID: u.ID, ClientID: a.ID, Scopes: []string{"openid"}, GrantedAt: f.at(-2 * time.Hour), ExpiresAt: f.atPtr(time.Hour)}
	for _, c := range []store.Consent{
		consB, consA,
		{UserID: u.ID, ClientID: gone.ID, Scopes: []string{"openid"}, GrantedAt: f.at(-3 * time.Hour), ExpiresAt: f.atPtr(-time.Minute)},
		{UserID: other.ID, ClientID: a.ID, Scopes: []string{"profile"}, GrantedAt: f.now},
	} {
		f.must(f.s.SaveConsent(f.ctx, c), "SaveConsent %s/%s", c.UserID, c.ClientID)
	}
	got, err = f.s.ListConsents(f.ctx, u.ID, f.now)
	f.must(err, "ListConsents")
	f.equal("consents ordered by client id, the expired one left out", got, []store.Consent{consA, consB})

	// Expiry is judged at the given time.
	got, err = f.s.ListConsents(f.ctx, u.ID, f.at(2*time.Hour))
	f.must(err, "ListConsents later")
	f.equal("consents after the first expired", got, []store.Consent{consB})

	got, err = f.s.ListConsents(f.ctx, "not-a-uuid", f.now)
	f.must(err, "ListConsents of no user")
	if len(got) != 0 {
		f.t.Errorf("ListConsents of no user = %v, want none", got)
	}
}

func testRevokeGrantsByUser(f *fixture) {
	c1, c2 := f.createClient(), f.createClient()
	u, other := f.createUser(), f.createUser()
	sess := f.createSession(u.ID)
	// u: two grants with c1 (one in a session, one not), one with c2;
	// other: one with c1.
	g1a, g1b, g2 := newGrant(c1, u, sess.ID), newGrant(c1, u, ""), newGrant(c2, u, "")
	gOther := newGrant(c1, other, "")
	r1a, a1a := f.createToken(store.KindRefreshToken, g1a), f.createToken(store.KindAccessToken, g1a)
	r1b := f.createToken(store.KindRefreshToken, g1b)
	r2 := f.createToken(store.KindRefreshToken, g2)
	rOther := f.createToken(store.KindRefreshToken, gOther)

	n, err := f.s.RevokeGrantsByUser(f.ctx, u.ID, c1.ID)
	f.must(err, "RevokeGrantsByUser of one client")
	if n != 2 {
		f.t.Errorf("RevokeGrantsByUser of one client = %d, want 2 grants", n)
	}
	f.wantTokenState(r1a, "inactive", "the user's grant with the client, in a session")
	f.wantTokenState(a1a, "inactive", "the user's grant with the client, in a session")
	f.wantTokenState(r1b, "inactive", "the user's grant with the client, without session")
	f.wantTokenState(r2, "active", "the user's grant with another client")
	f.wantTokenState(rOther, "active", "another user's grant with the client")
	_, err = f.s.GetGrant(f.ctx, g1a.requestID)
	f.wantErr(err, nil, "GetGrant of a revoked grant: the rows stay, for reuse detection")

	n, err = f.s.RevokeGrantsByUser(f.ctx, u.ID, "")
	f.must(err, "RevokeGrantsByUser of every client")
	if n != 1 {
		f.t.Errorf("RevokeGrantsByUser of every client = %d, want 1 grant (those revoked already do not count)", n)
	}
	f.wantTokenState(r2, "inactive", "the user's grant with another client")
	f.wantTokenState(rOther, "active", "another user's grant")

	for _, id := range []string{"not-a-uuid", f.newUser().ID} {
		n, err = f.s.RevokeGrantsByUser(f.ctx, id, "")
		f.must(err, "RevokeGrantsByUser of no user")
		if n != 0 {
			f.t.Errorf("RevokeGrantsByUser(%q) = %d, want 0", id, n)
		}
	}
}

func testGetUserForUpdate(f *fixture) {
	u := f.createUser()
	got, err := f.s.GetUserForUpdate(f.ctx, u.ID)
	f.must(err, "GetUserForUpdate outside a transaction")
	f.equal("user", got, u)

	err = store.InTx(f.ctx, f.s, func(ctx context.Context) error {
		got, err := f.s.GetUserForUpdate(ctx, u.ID)
		if err != nil {
			return err
		}
		f.equal("user in a transaction", got, u)
		return nil
	})
	f.must(err, "GetUserForUpdate in a transaction")

	for _, id := range []string{"not-a-uuid", f.newUser().ID} {
		_, err := f.s.GetUserForUpdate(f.ctx, id)
		f.wantErr(err, store.ErrNotFound, "GetUserForUpdate(%q)", id)
	}
}

// testGetUserForUpdateSerializes runs read-modify-writes of one user at
// once: each adds a goal and a role to what it read. Without the hold, two
// would read the same goals and the later write would drop the earlier
// one's goal; a hold whose read does not see what the holder before it
// committed (a snapshot taken before the wait) would drop roles, which
// live in a table of their own.
func testGetUserForUpdateSerializes(f *fixture) {
	const n = 8
	var roles []string
	for i := range n {
		r := f.newRole(fmt.Sprintf("%s-%d", uniqueID("r"), i), "viewer")
		f.must(f.s.CreateRole(f.ctx, r), "CreateRole")
		roles = append(roles, r.Name)
	}
	u := f.newUser()
	u.Goals, u.Roles = []string{}, []string{"user"}
	f.must(f.s.CreateUser(f.ctx, u), "CreateUser")
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		return store.InTx(ctx, f.s, func(ctx context.Context) error {
			cur, err := f.s.GetUserForUpdate(ctx, u.ID)
			if err != nil {
				return err
			}
			// Widen the window in which an unheld read would let another
			// read the same goals.
			time.Sleep(holdWindow)
			cur.Goals = append(cur.Goals, fmt.Sprintf("goal %d", i))
			cur.Roles = append(cur.Roles, roles[i])
			return f.s.UpdateUser(ctx, cur)
		})
	})
	if ok, _ := f.countErrors("read-modify-write", errs, nil); ok != n {
		f.t.Fatalf("%d of %d read-modify-writes succeeded", ok, n)
	}
	got, err := f.s.GetUser(f.ctx, u.ID)
	f.must(err, "GetUser")
	slices.Sort(got.Goals)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("goal %d", i))
	}
	if !slices.Equal(got.Goals, want) {
		f.t.Errorf("goals after %d concurrent additions = %v, want all of %v", n, got.Goals, want)
	}
	wantRoles := append(slices.Clone(roles), "user")
	slices.Sort(wantRoles)
	if !slices.Equal(got.Roles, wantRoles) {
		f.t.Errorf("roles after %d concurrent additions = %v, want all of %v", n, got.Roles, wantRoles)
	}
}
