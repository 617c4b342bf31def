package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/store"
)

const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// exchangeForm is a token-exchange request for subjectToken; extra adds or
// replaces parameters.
func exchangeForm(subjectToken string, extra url.Values) url.Values {
	f := url.Values{
		"grant_type":         {grantTokenExchange},
		"subject_token":      {subjectToken},
		"subject_token_type": {tokenTypeAccess},
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// tokenExchangeClient is a first-party confidential client allowed the
// code and token-exchange grants, the API scope and one extra audience.
func (ts *testServer) tokenExchangeClient(t *testing.T, mutate func(*store.Client)) testClient {
	t.Helper()
	return ts.createConfidentialClient(t, func(c *store.Client) {
		c.GrantTypes = []string{"authorization_code", "refresh_token", grantTokenExchange}
		c.Scopes = []string{"openid", "profile", "email", "offline_access", "gatehouse:api"}
		c.Audience = []string{"https://reports.example"}
		c.FirstParty = true
		if mutate != nil {
			mutate(c)
		}
	})
}

// actSub is the sub of the act claim in a JSON object (introspection or
// JWT claims), "" if none.
func actSub(m map[string]any) string {
	act, _ := m["act"].(map[string]any)
	s, _ := act["sub"].(string)
	return s
}

// TestTokenExchangeImpersonation: an admin's token, exchanged with
// requested_subject, acts as the target user against the resource API for
// at most 15 minutes and never beyond the admin's own token, with no
// refresh token, act naming the admin in introspection, and both
// identities in the audit log of what it changes.
func TestTokenExchangeImpersonation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	// Made before anything reads the roles: the server's role cache
	// hears of store writes only through the change feed.
	support := "support-" + randomHex(t, 3)
	if err := ts.Store.CreateRole(ctxT(t), store.Role{Name: support, Parent: "user", Permissions: []string{store.PermUsersImpersonate}}); err != nil {
		t.Fatal(err)
	}
	admin := ts.createUser(t, "admin")
	target := ts.createUser(t, "user")
	client := ts.tokenExchangeClient(t, nil)
	rs := authOf(ts.resourceServer(t))
	tok, _, _ := ts.newRP(t, client, oidc.ScopeOpenID, "gatehouse:api", oidc.ScopeOfflineAccess).signIn(t, admin)
	callerExp := time.Unix(int64(ts.introspect(t, tok.AccessToken, rs).JSON["exp"].(float64)), 0)

	r := ts.token(t, exchangeForm(tok.AccessToken, url.Values{"requested_subject": {target.Username}, "scope": {"gatehouse:api offline_access"}}), authOf(client))
	if r.Status != http.StatusOK {
		t.Fatalf("impersonation: status %d\n%s", r.Status, r.Raw)
	}
	at := r.str("access_token")
	ts.secret(at)
	if r.str("issued_token_type") != tokenTypeAccess || !strings.EqualFold(r.str("token_type"), "bearer") {
		t.Errorf("issued_token_type %q token_type %q", r.str("issued_token_type"), r.str("token_type"))
	}
	if _, ok := r.JSON["refresh_token"]; ok {
		t.Errorf("an impersonation token came with a refresh token")
	}
	if r.str("scope") != "gatehouse:api" {
		t.Errorf("scope %q, want gatehouse:api (offline_access dropped: no refresh token)", r.str("scope"))
	}
	expiresIn, _ := r.JSON["expires_in"].(float64)
	if expiresIn <= 0 || expiresIn > 15*60 {
		t.Errorf("expires_in %v, want within 15 minutes", expiresIn)
	}

	info := ts.introspect(t, at, rs)
	if info.JSON["active"] != true || info.str("sub") != target.ID || actSub(info.JSON) != admin.ID {
		t.Errorf("introspection %s: want active, sub %s, act.sub %s", info.Raw, target.ID, admin.ID)
	}
	if exp := time.Unix(int64(info.JSON["exp"].(float64)), 0); exp.After(callerExp) {
		t.Errorf("impersonation token expires %v, after the caller's token (%v)", exp, callerExp)
	}

	me := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", at, nil)
	if me.Status != http.StatusOK || me.str("id") != target.ID {
		t.Fatalf("GET /users/me with the impersonation token: %d %s, want the target %s", me.Status, me.Raw, target.ID)
	}
	patch := apiCall(t, ts, http.MethodPatch, "/api/v1/users/me", at, map[string]any{"department": "Seen by support"})
	if patch.Status != http.StatusOK {
		t.Fatalf("PATCH /users/me with the impersonation token: %d %s", patch.Status, patch.Raw)
	}
	updates := ts.auditOf(t, "user.update", target.ID)
	if len(updates) != 1 {
		t.Fatalf("user.update entries for the target: %d, want 1", len(updates))
	}
	if e := updates[0]; e.ActorType != store.ActorUser || e.ActorID != target.ID || e.Act != "user:"+admin.ID {
		t.Errorf("audit of the change: actor %s:%s act %q, want user:%s acting, act user:%s", e.ActorType, e.ActorID, e.Act, target.ID, admin.ID)
	}
	starts := ts.auditOf(t, "impersonation.start", target.ID)
	if len(starts) != 1 || starts[0].ActorID != admin.ID || starts[0].ActorType != store.ActorUser {
		t.Errorf("impersonation.start entries %+v, want one by %s", starts, admin.ID)
	}

	t.Run("no longer-lived credential from it", func(t *testing.T) {
		r := apiCall(t, ts, http.MethodPost, "/api/v1/tokens", at, map[string]any{"name": "keep me", "kind": "personal"})
		if r.Status != http.StatusForbidden {
			t.Errorf("POST /tokens with the impersonation token: %d %s, want 403", r.Status, r.Raw)
		}
	})

	t.Run("no refresh from it", func(t *testing.T) {
		r := ts.refresh(t, at, authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		// Nor is a refresh token a subject token.
		r = ts.token(t, exchangeForm(tok.RefreshToken, url.Values{"requested_subject": {target.ID}}), authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
		// Nor does an impersonation token impersonate again.
		other := ts.createUser(t, "viewer")
		r = ts.token(t, exchangeForm(at, url.Values{"requested_subject": {other.ID}}), authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	})

	t.Run("without the permission", func(t *testing.T) {
		manager := ts.createUser(t, "manager")
		mt, _, _ := ts.newRP(t, client, oidc.ScopeOpenID, "gatehouse:api").signIn(t, manager)
		r := ts.token(t, exchangeForm(mt.AccessToken, url.Values{"requested_subject": {target.ID}}), authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "unauthorized_client")
		if n := len(ts.auditOf(t, "impersonation.start", target.ID)); n != 1 {
			t.Errorf("a refused impersonation was audited: %d entries", n)
		}
	})

	t.Run("no gain of power", func(t *testing.T) {
		agent := ts.createUser(t, support)
		st, _, _ := ts.newRP(t, client, oidc.ScopeOpenID, "gatehouse:api").signIn(t, agent)
		r := ts.token(t, exchangeForm(st.AccessToken, url.Values{"requested_subject": {admin.Username}}), authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "unauthorized_client")
		// A plain user is within the agent's power.
		r = ts.token(t, exchangeForm(st.AccessToken, url.Values{"requested_subject": {target.Username}}), authOf(client))
		if r.Status != http.StatusOK {
			t.Fatalf("support agent impersonating a user: %d %s", r.Status, r.Raw)
		}
		ts.secret(r.str("access_token"))
	})

	t.Run("inactive target", func(t *testing.T) {
		gone := ts.createUserWith(t, func(u *store.User) { u.Status = store.StatusDisabled }, "user")
		for _, name := range []string{gone.Username, "nobody-" + randomHex(t, 4), admin.Username} {
			r := ts.token(t, exchangeForm(tok.AccessToken, url.Values{"requested_subject": {name}}), authOf(client))
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
		}
	})

	t.Run("ends with the caller", func(t *testing.T) {
		other := ts.createUser(t, "admin")
		ot, _, _ := ts.newRP(t, client, oidc.ScopeOpenID, "gatehouse:api").signIn(t, other)
		r := ts.token(t, exchangeForm(ot.AccessToken, url.Values{"requested_subject": {target.ID}}), authOf(client))
		if r.Status != http.StatusOK {
			t.Fatalf("impersonation: %d %s", r.Status, r.Raw)
		}
		imp := r.str("access_token")
		ts.secret(imp)
		if me := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", imp, nil); me.Status != http.StatusOK {
			t.Fatalf("GET /users/me: %d", me.Status)
		}
		other.Status = store.StatusLocked
		if err := ts.Store.UpdateUser(ctxT(t), other.User); err != nil {
			t.Fatal(err)
		}
		if me := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", imp, nil); me.Status != http.StatusUnauthorized {
			t.Errorf("GET /users/me after the caller was locked: %d, want 401", me.Status)
		}
	})

	t.Run("bounded by the caller's token", func(t *testing.T) {
		// A service account's 5-minute token, issued with the exchanging
		// client in its audience.
		exch := ts.tokenExchangeClient(t, nil)
		sa := ts.createConfidentialClient(t, func(c *store.Client) {
			c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
			c.GrantTypes = []string{"client_credentials"}
			c.Scopes = []string{"gatehouse:api"}
			c.Audience = []string{exch.ID}
			c.Roles = []string{"admin"}
			c.Lifetimes.AccessToken = 5 * time.Minute
		})
		cc := ts.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}, "audience": {exch.ID}}, authOf(sa))
		if cc.Status != http.StatusOK {
			t.Fatalf("client_credentials: %d %s", cc.Status, cc.Raw)
		}
		ts.secret(cc.str("access_token"))
		r := ts.token(t, exchangeForm(cc.str("access_token"), url.Values{"requested_subject": {target.ID}}), authOf(exch))
		if r.Status != http.StatusOK {
			t.Fatalf("service account impersonation: %d %s", r.Status, r.Raw)
		}
		ts.secret(r.str("access_token"))
		if got, _ := r.JSON["expires_in"].(float64); got <= 0 || got > 5*60 {
			t.Errorf("expires_in %v, want within the caller's 5 minutes", got)
		}
		info := ts.introspect(t, r.str("access_token"), rs)
		if info.str("sub") != target.ID || actSub(info.JSON) != sa.ID || info.str("client_id") != exch.ID {
			t.Errorf("introspection %s: want sub %s, act.sub %s, client_id %s", info.Raw, target.ID, sa.ID, exch.ID)
		}
		if me := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", r.str("access_token"), nil); me.Status != http.StatusOK || me.str("id") != target.ID {
			t.Errorf("GET /users/me: %d %s", me.Status, me.Raw)
		}
	})
}

// TestTokenExchangeDelegation: a client exchanges a user's token it holds
// for one of narrower scope and another audience; never wider, never for
// an audience it is not registered for, never from an inactive token, and
// every malformed request answers with RFC 8693's error.
func TestTokenExchangeDelegation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.tokenExchangeClient(t, func(c *store.Client) { c.AccessTokenFormat = store.FormatJWT })
	rs := authOf(ts.resourceServer(t))
	tok, _, _ := ts.newRP(t, client, oidc.ScopeOpenID, "profile", "gatehouse:api").signIn(t, user)

	r := ts.token(t, exchangeForm(tok.AccessToken, url.Values{"scope": {"profile"}, "audience": {"https://reports.example"}}), authOf(client))
	if r.Status != http.StatusOK {
		t.Fatalf("delegation: status %d\n%s", r.Status, r.Raw)
	}
	at := r.str("access_token")
	ts.secret(at)
	if r.str("scope") != "profile" || r.str("issued_token_type") != tokenTypeAccess {
		t.Errorf("scope %q issued_token_type %q", r.str("scope"), r.str("issued_token_type"))
	}
	if _, ok := r.JSON["refresh_token"]; ok {
		t.Errorf("a delegated token came with a refresh token")
	}
	claims := decodeJWTPart(t, at, 1)
	if claims["sub"] != user.ID || actSub(claims) != client.ID {
		t.Errorf("JWT claims sub %v act %v, want sub %s and act.sub %s", claims["sub"], claims["act"], user.ID, client.ID)
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != "https://reports.example" {
		t.Errorf("JWT aud %v, want [https://reports.example]", claims["aud"])
	}
	info := ts.introspect(t, at, rs)
	if info.JSON["active"] != true || info.str("sub") != user.ID || actSub(info.JSON) != client.ID {
		t.Errorf("introspection %s", info.Raw)
	}
	// For another audience (RFC 8707): the resource API is not it, so
	// the token is refused there before its scopes are looked at.
	if got := apiCall(t, ts, http.MethodGet, "/api/v1/users/me", at, nil); got.Status != http.StatusUnauthorized {
		t.Errorf("GET /users/me with a token for https://reports.example: %d, want 401", got.Status)
	}

	other := ts.tokenExchangeClient(t, nil)
	plain := ts.createConfidentialClient(t, nil)
	for _, c := range []struct {
		name   string
		form   url.Values
		auth   clientAuth
		status int
		code   string
	}{
		{"wider scope", exchangeForm(tok.AccessToken, url.Values{"scope": {"profile email"}}), authOf(client), 400, "invalid_scope"},
		{"foreign audience", exchangeForm(tok.AccessToken, url.Values{"audience": {"https://evil.example"}}), authOf(client), 400, "invalid_target"},
		{"foreign resource", exchangeForm(tok.AccessToken, url.Values{"resource": {"https://evil.example/api"}}), authOf(client), 400, "invalid_target"},
		{"unknown subject token", exchangeForm("gh_at_nope.nope", nil), authOf(client), 400, "invalid_grant"},
		{"malformed subject token", exchangeForm("gh_rt_x", nil), authOf(client), 400, "invalid_grant"},
		{"token of another client", exchangeForm(tok.AccessToken, nil), authOf(other), 400, "invalid_grant"},
		{"grant not allowed", exchangeForm(tok.AccessToken, nil), authOf(plain), 400, "unauthorized_client"},
		{"no subject_token_type", url.Values{"grant_type": {grantTokenExchange}, "subject_token": {tok.AccessToken}}, authOf(client), 400, "invalid_request"},
		{"id token type", exchangeForm(tok.AccessToken, url.Values{"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}), authOf(client), 400, "invalid_request"},
		{"no subject_token", url.Values{"grant_type": {grantTokenExchange}, "subject_token_type": {tokenTypeAccess}}, authOf(client), 400, "invalid_request"},
		{"actor token", exchangeForm(tok.AccessToken, url.Values{"actor_token": {tok.AccessToken}, "actor_token_type": {tokenTypeAccess}}), authOf(client), 400, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantOAuthError(t, ts.token(t, c.form, c.auth), c.status, c.code)
		})
	}

	t.Run("inactive subject token", func(t *testing.T) {
		tok2, _, _ := ts.newRP(t, client, oidc.ScopeOpenID, "profile").signIn(t, user)
		ts.revoke(t, tok2.AccessToken, authOf(client))
		r := ts.token(t, exchangeForm(tok2.AccessToken, nil), authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("subject user no longer active", func(t *testing.T) {
		u2 := ts.createUser(t, "user")
		tok3, _, _ := ts.newRP(t, client, oidc.ScopeOpenID, "profile").signIn(t, u2)
		u2.Status = store.StatusLocked
		if err := ts.Store.UpdateUser(ctxT(t), u2.User); err != nil {
			t.Fatal(err)
		}
		r := ts.token(t, exchangeForm(tok3.AccessToken, nil), authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
	})
}
