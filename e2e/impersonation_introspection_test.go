package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/store"
)

// An impersonation token ends with its impersonator's right to act, at the
// introspection endpoint as at the resource API, on every instance, though
// the token was cached as active: made from a service account's token (no
// browser session whose end would revoke it), it is reported inactive as
// soon as the account is deleted; made from a user's, as soon as the user
// is locked without its sessions being ended (as a write straight to the
// store does; the API's lock ends them, and the token with them). A change
// to anyone else leaves it active. B is asked in a tight loop from the
// moment the change has been answered.
func TestImpersonationIntrospectionEndsWithImpersonator(t *testing.T) {
	a := startServer(t, nil)
	b := startServer(t, nil)
	rs := a.resourceServer(t)
	ops := a.serviceClient(t, []string{"gatehouse:api"}, "admin")
	exch := a.tokenExchangeClient(t, nil)
	target := a.createUser(t, "user")
	// Someone stays admin when the impersonators are locked or deleted.
	a.createUser(t, "admin")
	onA := func(t *testing.T, method, path string, body any, want int) {
		t.Helper()
		admin := a.ccToken(t, authOf(ops), "gatehouse:api")
		if admin.Status != http.StatusOK {
			t.Fatalf("ops token: %d %s", admin.Status, admin.Raw)
		}
		if r := apiCall(t, a, method, path, admin.str("access_token"), body); r.Status != want {
			t.Fatalf("A: %s %s: %d %s, want %d", method, path, r.Status, snippet(r.Raw), want)
		}
	}
	// warm proves the token active on both instances and, when cached, B
	// answering it from its cache (its hits grow), retrying while a
	// notification of the fixtures' writes may still flush it. A token a
	// service account acts through is never cached: a client's deletion
	// is announced to other instances only after it has answered.
	warm := func(t *testing.T, token string, cached bool) {
		t.Helper()
		for try := 0; ; try++ {
			before := b.cacheHits(t)
			for range 3 {
				if !b.isActive(t, token, authOf(rs)) || !a.isActive(t, token, authOf(rs)) {
					t.Fatal("the impersonation token is not active")
				}
			}
			if !cached || b.cacheHits(t) >= before+2 {
				return
			}
			if try == 20 {
				t.Fatal("B does not answer the impersonation token from its cache: the test does not exercise it")
			}
		}
	}
	stillActive := func(t *testing.T, token, what string, withOpenID bool) {
		t.Helper()
		for _, ts := range []*testServer{a, b} {
			if !ts.isActive(t, token, authOf(rs)) {
				t.Fatalf("%s: the impersonation token is inactive after %s", ts.URL, what)
			}
		}
		if me := apiCall(t, b, http.MethodGet, "/api/v1/users/me", token, nil); me.Status != http.StatusOK || me.str("id") != target.ID {
			t.Fatalf("B: GET /users/me after %s: %d %s", what, me.Status, snippet(me.Raw))
		}
		if info := b.userinfo(t, token); withOpenID && (info.Status != http.StatusOK || info.str("sub") != target.ID) {
			t.Fatalf("B: userinfo after %s: %d %s", what, info.Status, snippet(info.Raw))
		}
	}
	// ended wants the token refused everywhere from the first request
	// after the change; withOpenID: also at userinfo.
	ended := func(t *testing.T, token, what string, withOpenID bool) {
		t.Helper()
		if withOpenID {
			defer func() {
				if info := b.userinfo(t, token); info.Status != http.StatusUnauthorized {
					t.Errorf("B: userinfo after the %s: %d %s, want 401", what, info.Status, snippet(info.Raw))
				}
			}()
		}
		deadline := time.Now().Add(100 * time.Millisecond)
		for n := 0; time.Now().Before(deadline) || n < 20; n++ {
			if b.isActive(t, token, authOf(rs)) {
				t.Fatalf("B reported the impersonation token active %d introspections after the %s", n, what)
			}
			if a.isActive(t, token, authOf(rs)) {
				t.Fatalf("A reported the impersonation token active %d introspections after the %s", n, what)
			}
		}
		wantRefused(t, apiCall(t, b, http.MethodGet, "/api/v1/users/me", token, nil), http.StatusUnauthorized, what, 0)
	}
	impersonate := func(t *testing.T, subjectToken, scope string) string {
		t.Helper()
		r := a.token(t, exchangeForm(subjectToken, url.Values{"requested_subject": {target.ID}, "scope": {scope}}), authOf(exch))
		if r.Status != http.StatusOK {
			t.Fatalf("impersonation: %d %s", r.Status, r.Raw)
		}
		at := r.str("access_token")
		a.secret(at)
		b.secret(at)
		return at
	}

	t.Run("service account deleted through the API", func(t *testing.T) {
		sa := a.createConfidentialClient(t, func(c *store.Client) {
			c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
			c.GrantTypes = []string{"client_credentials"}
			c.Scopes = []string{"gatehouse:api"}
			c.Audience = []string{exch.ID}
			c.Roles = []string{"admin"}
		})
		bystander := a.serviceClient(t, []string{"api:read"})
		cc := a.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}, "audience": {exch.ID}}, authOf(sa))
		if cc.Status != http.StatusOK {
			t.Fatalf("client_credentials: %d %s", cc.Status, cc.Raw)
		}
		a.secret(cc.str("access_token"))
		imp := impersonate(t, cc.str("access_token"), "gatehouse:api")
		if info := b.introspect(t, imp, authOf(rs)); actSub(info.JSON) != sa.ID {
			t.Fatalf("introspection %s: want act.sub %s", info.Raw, sa.ID)
		}
		warm(t, imp, false)

		onA(t, http.MethodDelete, "/api/v1/clients/"+bystander.ID, nil, http.StatusNoContent)
		stillActive(t, imp, "another client's deletion", false)
		warm(t, imp, false)

		onA(t, http.MethodDelete, "/api/v1/clients/"+sa.ID, nil, http.StatusNoContent)
		ended(t, imp, "impersonating service account's deletion", false)
	})

	t.Run("user locked with its sessions kept", func(t *testing.T) {
		caller := a.createUser(t, "admin")
		bystander := a.createUser(t, "user")
		tok, _, _ := a.newRP(t, exch, oidc.ScopeOpenID, "gatehouse:api").signIn(t, caller)
		a.secret(tok.AccessToken, tok.RefreshToken)
		imp := impersonate(t, tok.AccessToken, "openid gatehouse:api")
		warm(t, imp, true)

		onA(t, http.MethodPut, "/api/v1/users/"+bystander.ID+"/status", map[string]string{"status": "locked"}, http.StatusOK)
		stillActive(t, imp, "another user's lock", true)
		warm(t, imp, true)

		caller.Status = store.StatusLocked
		if err := a.Store.UpdateUser(ctxT(t), caller.User); err != nil {
			t.Fatal(err)
		}
		ended(t, imp, "impersonator's lock", true)
	})

	t.Run("user locked through the API", func(t *testing.T) {
		caller := a.createUser(t, "admin")
		tok, _, _ := a.newRP(t, exch, oidc.ScopeOpenID, "gatehouse:api").signIn(t, caller)
		a.secret(tok.AccessToken, tok.RefreshToken)
		imp := impersonate(t, tok.AccessToken, "openid gatehouse:api")
		warm(t, imp, true)
		onA(t, http.MethodPut, "/api/v1/users/"+caller.ID+"/status", map[string]string{"status": "locked"}, http.StatusOK)
		ended(t, imp, "impersonator's lock", true)
	})

	t.Run("user deleted through the API", func(t *testing.T) {
		caller := a.createUser(t, "admin")
		tok, _, _ := a.newRP(t, exch, oidc.ScopeOpenID, "gatehouse:api").signIn(t, caller)
		a.secret(tok.AccessToken, tok.RefreshToken)
		imp := impersonate(t, tok.AccessToken, "openid gatehouse:api")
		warm(t, imp, true)
		onA(t, http.MethodDelete, "/api/v1/users/"+caller.ID+"?hard=true", nil, http.StatusNoContent)
		ended(t, imp, "impersonator's deletion", true)
	})
}
