package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// TestRefreshSeesUserChangedElsewhere: a refresh checks the grant's user
// as the database has it at that moment (read with the refresh token, in
// the same round trip), so a user locked, expired or disabled through
// another instance, or behind every instance's back (the CLI), is refused
// at the very next refresh, with no propagation to wait for. A refused
// refresh changes nothing: once the user may act again the same token
// works.
func TestRefreshSeesUserChangedElsewhere(t *testing.T) {
	t.Parallel()
	a := startServer(t, nil)
	b := startServer(t, nil)
	user := a.createUser(t, "user")
	client := a.createConfidentialClient(t, nil)
	tok, _, _ := a.newRP(t, client).signIn(t, user)
	rt := tok.RefreshToken

	refreshAt := func(ts *testServer, want int, what string) {
		t.Helper()
		r := ts.refresh(t, rt, authOf(client))
		if r.Status != want {
			t.Fatalf("%s: refresh status %d, want %d\n%s", what, r.Status, want, r.Raw)
		}
		if want == http.StatusOK {
			rt = r.str("refresh_token")
			return
		}
		if r.str("error") != "invalid_grant" {
			t.Errorf("%s: error %q, want invalid_grant", what, r.str("error"))
		}
	}
	// change stores the user as another process would (the CLI, another
	// instance's store), telling no cache of a's.
	change := func(mutate func(u *store.User)) {
		t.Helper()
		u, err := b.Store.GetUser(ctxT(t), user.ID)
		if err != nil {
			t.Fatal(err)
		}
		mutate(&u)
		u.UpdatedAt = time.Now()
		if err := b.Store.UpdateUser(ctxT(t), u); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
	}

	refreshAt(a, http.StatusOK, "before any change")
	change(func(u *store.User) { u.Status = store.StatusLocked })
	refreshAt(a, http.StatusBadRequest, "user locked in the database")
	change(func(u *store.User) { u.Status = store.StatusActive })
	refreshAt(a, http.StatusOK, "user active again")

	past := time.Now().Add(-time.Minute)
	change(func(u *store.User) { u.ExpiresAt = &past })
	refreshAt(a, http.StatusBadRequest, "user expired in the database")
	change(func(u *store.User) { u.ExpiresAt = nil })
	refreshAt(a, http.StatusOK, "user no longer expired")

	// Through B's resource API, as an administrator would: locking ends
	// the user's sessions, and the refresh at A right after B answered is
	// refused.
	ops := b.serviceClient(t, []string{"gatehouse:api"}, "admin")
	opsTok := b.ccToken(t, authOf(ops), "gatehouse:api")
	if opsTok.Status != http.StatusOK {
		t.Fatalf("ops token: %d %s", opsTok.Status, opsTok.Raw)
	}
	r := apiCall(t, b, http.MethodPut, "/api/v1/users/"+user.ID+"/status", opsTok.str("access_token"),
		map[string]string{"status": "locked"})
	if r.Status != http.StatusOK {
		t.Fatalf("PUT status locked at B: %d %s", r.Status, r.Raw)
	}
	refreshAt(a, http.StatusBadRequest, "user locked through B's API")
}
