package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
)

// resourceServer is a confidential client that only introspects: the role a
// resource server plays.
func (ts *testServer) resourceServer(t *testing.T) testClient {
	t.Helper()
	return ts.createConfidentialClient(t, func(c *store.Client) {
		c.RedirectURIs, c.PostLogoutRedirectURIs = nil, nil
		c.GrantTypes = []string{"client_credentials"}
		c.ResponseTypes = nil
		c.Scopes = []string{"introspect"}
	})
}

// TestRefreshTokenRotation: a refresh token works once; the new pair
// replaces the old; presenting the old one again is reuse, which revokes
// the whole family, the new pair included. The reuse interval is off: with
// it, presenting the old token at once would be a retry
// (refresh_retry_test.go).
func TestRefreshTokenRotation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *config.Config) { c.RefreshToken.ReuseInterval = 0 })
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rs := authOf(ts.resourceServer(t))
	rp := ts.newRP(t, client)
	tok1, _, _ := rp.signIn(t, user)

	r := ts.refresh(t, tok1.RefreshToken, authOf(client))
	if r.Status != http.StatusOK {
		t.Fatalf("refresh: status %d\n%s", r.Status, r.Raw)
	}
	at2, rt2 := r.str("access_token"), r.str("refresh_token")
	ts.secret(at2, rt2)
	if !strings.HasPrefix(at2, "gh_at_") || !strings.HasPrefix(rt2, "gh_rt_") {
		t.Fatalf("refresh response lacks a new prefixed token pair: %v", keysOf(r.JSON))
	}
	if at2 == tok1.AccessToken || rt2 == tok1.RefreshToken {
		t.Fatalf("refresh did not rotate the tokens")
	}
	if got := r.str("scope"); !strings.Contains(got, "openid") || !strings.Contains(got, "offline_access") {
		t.Errorf("refreshed scope %q, want the original grant's", got)
	}
	if raw := r.str("id_token"); raw != "" {
		if _, err := rp.Verifier.Verify(ctxT(t), raw); err != nil {
			t.Errorf("refreshed ID token does not verify: %v", err)
		}
	}

	if !ts.isActive(t, at2, rs) || !ts.isActive(t, rt2, rs) {
		t.Fatalf("new token pair is not active")
	}
	if ts.isActive(t, tok1.RefreshToken, rs) {
		t.Errorf("old refresh token still active after rotation")
	}
	if ts.isActive(t, tok1.AccessToken, rs) {
		t.Errorf("old access token still active after its refresh token was rotated")
	}
	// The old row is kept, marked inactive: that is how reuse is detected.
	old := ts.storedToken(t, store.KindRefreshToken, tok1.RefreshToken, "gh_rt_")
	if old.Active {
		t.Errorf("store: rotated refresh token still active")
	}
	newRow := ts.storedToken(t, store.KindRefreshToken, rt2, "gh_rt_")
	if newRow.RequestID != old.RequestID {
		t.Errorf("store: the new refresh token belongs to grant %q, want the original grant %q", newRow.RequestID, old.RequestID)
	}

	// Reuse of the rotated token: refused, and the family is revoked.
	wantOAuthError(t, ts.refresh(t, tok1.RefreshToken, authOf(client)), http.StatusBadRequest, "invalid_grant")
	if ts.isActive(t, rt2, rs) {
		t.Errorf("refresh token of the family still active after reuse of its predecessor")
	}
	if ts.isActive(t, at2, rs) {
		t.Errorf("access token of the family still active after refresh token reuse")
	}
	if row := ts.storedToken(t, store.KindRefreshToken, rt2, "gh_rt_"); row.Active {
		t.Errorf("store: refresh token of the revoked family still active")
	}
	wantOAuthError(t, ts.refresh(t, rt2, authOf(client)), http.StatusBadRequest, "invalid_grant")

	// Another client cannot redeem someone else's refresh token.
	other := ts.createConfidentialClient(t, nil)
	tok3, _, _ := rp.signIn(t, user)
	wantOAuthError(t, ts.refresh(t, tok3.RefreshToken, authOf(other)), http.StatusBadRequest, "invalid_grant")
	if !ts.isActive(t, tok3.RefreshToken, rs) {
		t.Errorf("a refresh attempt by another client revoked the owner's refresh token")
	}
}

// TestRevocation (RFC 7009): revoked tokens stop working at once; revoking
// a refresh token ends the access tokens of its grant; unknown tokens and
// tokens of other clients are answered 200 without effect.
func TestRevocation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	client := ts.createConfidentialClient(t, nil)
	rs := authOf(ts.resourceServer(t))
	rp := ts.newRP(t, client)

	t.Run("access token", func(t *testing.T) {
		t.Parallel()
		tok, _, _ := rp.signIn(t, ts.createUser(t, "user"))
		ts.revoke(t, tok.AccessToken, authOf(client))
		if ts.isActive(t, tok.AccessToken, rs) {
			t.Errorf("revoked access token still active")
		}
		if ui := ts.userinfo(t, tok.AccessToken); ui.Status != http.StatusUnauthorized {
			t.Errorf("userinfo with a revoked token: status %d, want 401", ui.Status)
		}
		// Revoked access tokens may be deleted or kept inactive.
		row, err := ts.Store.GetToken(ctxT(t), store.KindAccessToken, tokenSignature(t, tok.AccessToken, "gh_at_"))
		if err == nil && row.Active {
			t.Errorf("store: revoked access token still active")
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("store: get revoked access token: %v", err)
		}
	})
	t.Run("refresh token ends its grant", func(t *testing.T) {
		t.Parallel()
		tok, _, _ := rp.signIn(t, ts.createUser(t, "user"))
		ts.revoke(t, tok.RefreshToken, authOf(client))
		if ts.isActive(t, tok.RefreshToken, rs) {
			t.Errorf("revoked refresh token still active")
		}
		if ts.isActive(t, tok.AccessToken, rs) {
			t.Errorf("access token still active after its grant's refresh token was revoked")
		}
		wantOAuthError(t, ts.refresh(t, tok.RefreshToken, authOf(client)), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("unknown token", func(t *testing.T) {
		t.Parallel()
		ts.revoke(t, "gh_at_unknown.token", authOf(client))
	})
	t.Run("another client's token", func(t *testing.T) {
		t.Parallel()
		tok, _, _ := rp.signIn(t, ts.createUser(t, "user"))
		other := ts.createConfidentialClient(t, nil)
		r := ts.post(t, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, authOf(other))
		if r.Status >= 500 {
			t.Fatalf("revoke by another client: status %d", r.Status)
		}
		if !ts.isActive(t, tok.AccessToken, rs) {
			t.Errorf("another client revoked a token it does not own")
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		t.Parallel()
		tok, _, _ := rp.signIn(t, ts.createUser(t, "user"))
		r := ts.post(t, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}}, clientAuth{ID: client.ID, Secret: "ghs_wrong"})
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		if !ts.isActive(t, tok.AccessToken, rs) {
			t.Errorf("an unauthenticated revocation revoked the token")
		}
	})
}

// TestIntrospection (RFC 7662): active tokens are described; revoked and
// expired ones are only {"active": false}.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	rs := authOf(ts.resourceServer(t))

	t.Run("active then revoked", func(t *testing.T) {
		t.Parallel()
		user := ts.createUser(t, "user")
		client := ts.createConfidentialClient(t, nil)
		tok, _, _ := ts.newRP(t, client).signIn(t, user)

		r := ts.introspect(t, tok.AccessToken, rs)
		if r.JSON["active"] != true {
			t.Fatalf("fresh access token inactive: %s", r.Raw)
		}
		if r.str("client_id") != client.ID || r.str("sub") != user.ID {
			t.Errorf("client_id %q sub %q, want %q %q", r.str("client_id"), r.str("sub"), client.ID, user.ID)
		}
		scopes := strings.Fields(r.str("scope"))
		for _, s := range []string{"openid", "profile", "email", "offline_access"} {
			if !contains(scopes, s) {
				t.Errorf("scope %q lacks %q", r.str("scope"), s)
			}
		}
		exp, _ := r.JSON["exp"].(float64)
		if d := time.Until(time.Unix(int64(exp), 0)); d < 59*time.Minute || d > 61*time.Minute {
			t.Errorf("exp is %v from now, want about 60m", d)
		}
		if iat, _ := r.JSON["iat"].(float64); iat == 0 {
			t.Errorf("no iat: %s", r.Raw)
		}
		if tt := r.str("token_type"); tt != "" && !strings.EqualFold(tt, "bearer") && tt != "access_token" {
			t.Errorf("token_type = %q", tt)
		}
		if rt := ts.introspect(t, tok.RefreshToken, rs); rt.JSON["active"] != true {
			t.Errorf("fresh refresh token inactive: %s", rt.Raw)
		}

		ts.revoke(t, tok.AccessToken, authOf(client))
		r = ts.introspect(t, tok.AccessToken, rs)
		if r.JSON["active"] != false || len(r.JSON) != 1 {
			t.Errorf("revoked token: %s, want exactly {\"active\":false}", r.Raw)
		}
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		user := ts.createUser(t, "user")
		client := ts.createConfidentialClient(t, func(c *store.Client) { c.Lifetimes.AccessToken = 2 * time.Second })
		tok, _, _ := ts.newRP(t, client).signIn(t, user)
		if !ts.isActive(t, tok.AccessToken, rs) {
			t.Fatalf("fresh 2-second access token is inactive")
		}
		if left := time.Until(tok.Expiry); left > 3*time.Second {
			t.Errorf("access token with a 2s client lifetime expires in %v", left)
		}
		deadline := time.Now().Add(6 * time.Second)
		for ts.isActive(t, tok.AccessToken, rs) {
			if time.Now().After(deadline) {
				t.Fatalf("access token with a 2s lifetime still active after 6s")
			}
			time.Sleep(250 * time.Millisecond)
		}
		if ui := ts.userinfo(t, tok.AccessToken); ui.Status != http.StatusUnauthorized {
			t.Errorf("userinfo with an expired token: status %d, want 401", ui.Status)
		}
		// The refresh token has the default lifetime and still works.
		if r := ts.refresh(t, tok.RefreshToken, authOf(client)); r.Status != http.StatusOK {
			t.Errorf("refresh after the access token expired: status %d\n%s", r.Status, r.Raw)
		} else {
			ts.secret(r.str("access_token"), r.str("refresh_token"))
		}
	})
	t.Run("garbage", func(t *testing.T) {
		t.Parallel()
		for _, tok := range []string{"gh_at_nope.nope", "not-a-token", "a.b.c"} {
			if r := ts.introspect(t, tok, rs); r.JSON["active"] != false || len(r.JSON) != 1 {
				t.Errorf("introspect %q: %s, want exactly {\"active\":false}", tok, r.Raw)
			}
		}
	})
	t.Run("caller must authenticate", func(t *testing.T) {
		t.Parallel()
		r := ts.post(t, "/oauth2/introspect", url.Values{"token": {"gh_at_x.y"}}, clientAuth{ID: rs.ID, Secret: "ghs_wrong"})
		if r.Status != http.StatusUnauthorized {
			t.Errorf("introspection with a wrong secret: status %d, want 401\n%s", r.Status, r.Raw)
		}
	})
}

// TestClientCredentials: a machine client gets an access token for itself,
// without refresh or ID token, within its allowed scopes only.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	rs := authOf(ts.resourceServer(t))
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.ResponseTypes = nil, nil, nil
		c.GrantTypes = []string{"client_credentials"}
		c.Scopes = []string{"reports:read", "reports:write"}
	})

	r := ts.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read"}}, authOf(client))
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials: status %d\n%s", r.Status, r.Raw)
	}
	at := r.str("access_token")
	ts.secret(at)
	if !strings.HasPrefix(at, "gh_at_") {
		t.Errorf("access token %.10q... lacks the gh_at_ prefix", at)
	}
	if !strings.EqualFold(r.str("token_type"), "bearer") {
		t.Errorf("token_type = %q", r.str("token_type"))
	}
	if r.str("scope") != "reports:read" {
		t.Errorf("scope = %q, want reports:read", r.str("scope"))
	}
	for _, k := range []string{"refresh_token", "id_token"} {
		if _, ok := r.JSON[k]; ok {
			t.Errorf("client_credentials response carries %s", k)
		}
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token response Cache-Control %q, want no-store", cc)
	}

	info := ts.introspect(t, at, rs)
	if info.JSON["active"] != true || info.str("client_id") != client.ID || info.str("sub") != client.ID {
		t.Errorf("introspection: %s, want active with client_id and sub %q", info.Raw, client.ID)
	}
	row := ts.storedToken(t, store.KindAccessToken, at, "gh_at_")
	if row.Subject != client.ID || row.UserID != "" || row.LoginSessionID != "" {
		t.Errorf("stored token: subject %q user %q session %q, want the client as subject and no user or session", row.Subject, row.UserID, row.LoginSessionID)
	}

	t.Run("scope not allowed", func(t *testing.T) {
		r := ts.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin:everything"}}, authOf(client))
		wantOAuthError(t, r, http.StatusBadRequest, "invalid_scope")
	})
	t.Run("grant not allowed", func(t *testing.T) {
		webApp := ts.createConfidentialClient(t, nil)
		r := ts.token(t, url.Values{"grant_type": {"client_credentials"}}, authOf(webApp))
		wantOAuthError(t, r, http.StatusBadRequest, "unauthorized_client")
	})
}

// TestJWTAccessTokens: a client configured for JWT access tokens gets RFC
// 9068 tokens that a resource server verifies offline against the JWKS.
func TestJWTAccessTokens(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, func(c *store.Client) { c.AccessTokenFormat = store.FormatJWT })
	rs := authOf(ts.resourceServer(t))
	rp := ts.newRP(t, client)
	tok, _, _ := rp.signIn(t, user)

	if strings.HasPrefix(tok.AccessToken, "gh_at_") || strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatalf("access token of a JWT client is not a compact JWT")
	}
	if !strings.HasPrefix(tok.RefreshToken, "gh_rt_") {
		t.Errorf("refresh token should stay opaque")
	}

	set := fetchJWKS(t, ts)
	claims, header := verifyJWTAccessToken(t, ts, set, tok.AccessToken)
	if typ, _ := header["typ"].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
		t.Errorf("typ = %q, want at+jwt (RFC 9068)", typ)
	}
	if claims["sub"] != user.ID || claims["client_id"] != client.ID {
		t.Errorf("sub %v client_id %v, want %q %q", claims["sub"], claims["client_id"], user.ID, client.ID)
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Errorf("no jti")
	}
	scope := scopeClaim(claims)
	if !contains(scope, "openid") || !contains(scope, "profile") {
		t.Errorf("scope claim %v lacks the granted scopes", claims["scope"])
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	// iat and exp are whole seconds taken at slightly different moments.
	if d := time.Duration(exp-iat) * time.Second; (d - ts.Config.Lifetimes.AccessToken).Abs() > time.Second {
		t.Errorf("exp - iat = %v, want %v", d, ts.Config.Lifetimes.AccessToken)
	}

	// The server accepts its own JWT access tokens, and revocation still
	// takes effect for it even though the JWT itself stays valid offline.
	if ui := ts.userinfo(t, tok.AccessToken); ui.Status != http.StatusOK || ui.str("sub") != user.ID {
		t.Errorf("userinfo with the JWT: status %d sub %q", ui.Status, ui.str("sub"))
	}
	if !ts.isActive(t, tok.AccessToken, rs) {
		t.Errorf("introspection: JWT access token inactive")
	}

	// A tampered JWT fails offline verification and at the server.
	tampered := tamper(tok.AccessToken)
	if parsed, err := jwt.ParseSigned(tampered, []jose.SignatureAlgorithm{jose.RS256, jose.ES256}); err == nil {
		if keys := set.Key(parsed.Headers[0].KeyID); len(keys) == 1 {
			var c map[string]any
			if parsed.Claims(keys[0].Public().Key, &c) == nil {
				t.Errorf("tampered JWT verifies")
			}
		}
	}
	if ui := ts.userinfo(t, tampered); ui.Status != http.StatusUnauthorized {
		t.Errorf("userinfo with a tampered JWT: status %d, want 401", ui.Status)
	}
	if ts.isActive(t, tampered, rs) {
		t.Errorf("introspection: tampered JWT active")
	}

	// Per-client format: a default client of the same server gets opaque tokens.
	plain := ts.createConfidentialClient(t, nil)
	tok2, _, _ := ts.newRP(t, plain).signIn(t, user)
	if !strings.HasPrefix(tok2.AccessToken, "gh_at_") {
		t.Errorf("default client got a non-opaque access token")
	}
}

// fetchJWKS reads the server's JWKS into go-jose v4 types.
func fetchJWKS(t *testing.T, ts *testServer) jose.JSONWebKeySet {
	t.Helper()
	r := getJSON(t, ts.endpoint("/oauth2/jwks"))
	if r.Status != http.StatusOK {
		t.Fatalf("jwks: status %d", r.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.Raw), &set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("JWKS key %s is not public", k.KeyID)
		}
	}
	return set
}

// verifyJWTAccessToken verifies raw with go-jose v4 against set, as a
// resource server would offline, and returns its claims and header.
func verifyJWTAccessToken(t *testing.T, ts *testServer, set jose.JSONWebKeySet, raw string) (map[string]any, map[string]any) {
	t.Helper()
	parsed, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT access token: %v", err)
	}
	if len(parsed.Headers) != 1 || parsed.Headers[0].KeyID == "" {
		t.Fatalf("JWT access token needs one signature with a kid")
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", parsed.Headers[0].KeyID)
	}
	var std jwt.Claims
	var all map[string]any
	if err := parsed.Claims(keys[0].Public().Key, &std, &all); err != nil {
		t.Fatalf("verify JWT access token: %v", err)
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: ts.URL, Time: time.Now()}, 5*time.Second); err != nil {
		t.Errorf("JWT access token claims: %v", err)
	}
	return all, decodeJWTPart(t, raw, 0)
}

// scopeClaim reads a scope claim given as a space-separated string or a list.
func scopeClaim(claims map[string]any) []string {
	switch v := claims["scope"].(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, s := range v {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	if v, ok := claims["scp"].([]any); ok {
		var out []string
		for _, s := range v {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

// tamper changes one character of a JWT's payload.
func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	p := []byte(parts[1])
	if p[len(p)/2] == 'A' {
		p[len(p)/2] = 'B'
	} else {
		p[len(p)/2] = 'A'
	}
	parts[1] = string(p)
	return strings.Join(parts, ".")
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
