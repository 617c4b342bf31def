package provider

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/store"
)

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// The reuse interval is off (newTestEnv leaves it 0): presenting the
// rotated token at once is reuse here, not a retry (refresh_test.go).
func TestRefreshRotationAndReuse(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true})
	rsID, rsSecret := e.resourceServer()
	tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", secret, "openid", "profile", "offline_access"))
	r1 := refreshToken(t, tok)

	status, body := e.postForm("/oauth2/token", refreshForm(r1), "web", secret)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	r2, _ := body["refresh_token"].(string)
	a2, _ := body["access_token"].(string)
	if r2 == "" || r2 == r1 || a2 == "" {
		t.Fatalf("refresh did not rotate: %v", body)
	}
	if idt, _ := body["id_token"].(string); idt == "" {
		t.Errorf("no ID token on refresh of an openid grant")
	} else if _, err := e.verifier("web").Verify(e.ctx, idt); err != nil {
		t.Errorf("refreshed ID token: %v", err)
	}
	if got := e.introspect(tok.AccessToken, rsID, rsSecret); got["active"] != false {
		t.Errorf("the access token of the rotated refresh token is still active: %v", got)
	}
	if got := e.introspect(a2, rsID, rsSecret); got["active"] != true {
		t.Fatalf("new access token inactive: %v", got)
	}

	// Replaying the rotated token fails and revokes the whole family.
	status, body = e.postForm("/oauth2/token", refreshForm(r1), "web", secret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %v", status, body)
	}
	status, body = e.postForm("/oauth2/token", refreshForm(r2), "web", secret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh token of a family with detected reuse: %d %v", status, body)
	}
	if got := e.introspect(a2, rsID, rsSecret); got["active"] != false {
		t.Errorf("access token of a family with detected reuse: %v", got)
	}
}

func TestRefreshChecksTheUser(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true})
	tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", secret, "openid", "roles", "offline_access"))

	// A role change shows in the next ID token.
	u, _ := e.store.GetUser(e.ctx, e.user.ID)
	u.Roles = []string{"admin"}
	if err := e.store.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	status, body := e.postForm("/oauth2/token", refreshForm(refreshToken(t, tok)), "web", secret)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	idt, err := e.verifier("web").Verify(e.ctx, body["id_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.Roles, []string{"admin", "manager", "user", "viewer"}) {
		t.Errorf("roles after refresh = %v", claims.Roles)
	}

	// A disabled user's grants stop working.
	u.Status = store.StatusDisabled
	if err := e.store.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	status, body = e.postForm("/oauth2/token", refreshForm(body["refresh_token"].(string)), "web", secret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh for a disabled user: %d %v", status, body)
	}
}

func TestConcurrentRefresh(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true})
	tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", secret, "openid", "offline_access"))
	rt := refreshToken(t, tok)

	const n = 8
	type result struct {
		status int
		body   map[string]any
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/token", strings.NewReader(refreshForm(rt).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("web", url.QueryEscape(secret))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results[i] = result{status: -1}
				return
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			results[i] = result{resp.StatusCode, body}
		}()
	}
	close(start)
	wg.Wait()

	ok := 0
	for i, r := range results {
		switch {
		case r.status == http.StatusOK:
			ok++
		case r.status == http.StatusBadRequest && r.body["error"] == "invalid_grant":
		default:
			t.Errorf("request %d: status %d %v", i, r.status, r.body)
		}
	}
	if ok != 1 {
		t.Errorf("%d requests succeeded, want exactly 1", ok)
	}
}

func TestAuthorizationCodeUsedTwice(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true})
	rsID, rsSecret := e.resourceServer()
	cfg := e.oauthConfig("web", secret, "openid", "offline_access")
	verifier := oauth2.GenerateVerifier()
	q := e.newBrowser().authorize(cfg.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(verifier)))
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {callbackURL}, "code_verifier": {verifier},
	}

	status, first := e.postForm("/oauth2/token", form, "web", secret)
	if status != http.StatusOK {
		t.Fatalf("first redemption: %d %v", status, first)
	}
	status, second := e.postForm("/oauth2/token", form, "web", secret)
	if status != http.StatusBadRequest || second["error"] != "invalid_grant" {
		t.Fatalf("second redemption: %d %v", status, second)
	}
	if got := e.introspect(first["access_token"].(string), rsID, rsSecret); got["active"] != false {
		t.Errorf("access token of a reused code is active: %v", got)
	}
	status, body := e.postForm("/oauth2/token", refreshForm(first["refresh_token"].(string)), "web", secret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh token of a reused code: %d %v", status, body)
	}
}

func TestPKCEVerifier(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true})
	cfg := e.oauthConfig("web", secret, "openid")
	verifier := oauth2.GenerateVerifier()
	q := e.newBrowser().authorize(cfg.AuthCodeURL("state-123456", oauth2.S256ChallengeOption(verifier)))
	form := func(v string) url.Values {
		f := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {callbackURL}}
		if v != "" {
			f.Set("code_verifier", v)
		}
		return f
	}
	for _, tc := range []struct{ name, verifier string }{
		{"wrong verifier", oauth2.GenerateVerifier()},
		// A failed attempt must not strip the code of its challenge.
		{"no verifier after a failed attempt", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.postForm("/oauth2/token", form(tc.verifier), "web", secret)
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("%d %v", status, body)
			}
		})
	}
	if status, body := e.postForm("/oauth2/token", form(verifier), "web", secret); status != http.StatusOK {
		t.Errorf("right verifier: %d %v", status, body)
	}
}

func TestClientAuthentication(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	postSecret := e.addClient(store.Client{ID: "svc-post", TokenEndpointAuthMethod: "client_secret_post", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}
	withCreds := func(id, sec string) url.Values {
		f := url.Values{"client_id": {id}, "client_secret": {sec}}
		for k, v := range cc {
			f[k] = v
		}
		return f
	}

	cases := []struct {
		name       string
		form       url.Values
		id, secret string
		status     int
		err        string
	}{
		{"basic, right secret", cc, "svc", secret, http.StatusOK, ""},
		{"basic, wrong secret", cc, "svc", secret + "x", http.StatusUnauthorized, "invalid_client"},
		{"basic, unknown client", cc, "nobody", secret, http.StatusUnauthorized, "invalid_client"},
		{"basic, empty secret", cc, "svc", "", http.StatusUnauthorized, "invalid_client"},
		{"post, right secret", withCreds("svc-post", postSecret), "", "", http.StatusOK, ""},
		{"post, wrong secret", withCreds("svc-post", "ghs_wrong"), "", "", http.StatusUnauthorized, "invalid_client"},
		{"post for a basic client", withCreds("svc", secret), "", "", http.StatusUnauthorized, "invalid_client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.postForm("/oauth2/token", tc.form, tc.id, tc.secret)
			if status != tc.status || (tc.err != "" && body["error"] != tc.err) {
				t.Errorf("got %d %v, want %d %s", status, body, tc.status, tc.err)
			}
		})
	}
}

func TestClientCredentialsIntrospectionRevocation(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read", "api:write"}})
	rsID, rsSecret := e.resourceServer()

	status, body := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, "svc", secret)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	at, _ := body["access_token"].(string)
	if !strings.HasPrefix(at, prefixAccessToken) || body["refresh_token"] != nil || body["scope"] != "api:read" {
		t.Fatalf("token response %v", body)
	}

	got := e.introspect(at, rsID, rsSecret)
	if got["active"] != true || got["sub"] != "svc" || got["client_id"] != "svc" || got["scope"] != "api:read" {
		t.Errorf("introspection %v", got)
	}
	info, err := e.p.IntrospectAccessToken(e.ctx, at)
	if err != nil || info.Subject != "svc" || info.ClientID != "svc" || info.UserID != "" || !slices.Equal(info.Scopes, []string{"api:read"}) {
		t.Errorf("IntrospectAccessToken = %+v, %v", info, err)
	}
	if d := time.Until(info.ExpiresAt); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("expires in %v", d)
	}

	// Introspection needs an authenticated client; an access token is not
	// a client credential.
	if status, _ := e.postForm("/oauth2/introspect", url.Values{"token": {at}}, rsID, "wrong"); status != http.StatusUnauthorized {
		t.Errorf("introspection with a wrong secret: %d", status)
	}
	_, other := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, "svc", secret)
	if status, body := e.postForm("/oauth2/introspect", url.Values{"token": {at}, "access_token": {other["access_token"].(string)}}, "", ""); status != http.StatusUnauthorized || body["active"] != nil {
		t.Errorf("introspection authorized by an access token: %d %v", status, body)
	}
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {at}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+other["access_token"].(string))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("introspection with a bearer token: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	// Scopes the client may not have are refused.
	if status, body := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, "svc", secret); status != http.StatusBadRequest || body["error"] != "invalid_scope" {
		t.Errorf("disallowed scope: %d %v", status, body)
	}

	// Another client cannot revoke it; its own client can.
	status, _ = e.postForm("/oauth2/revoke", url.Values{"token": {at}}, rsID, rsSecret)
	if status == http.StatusOK {
		if got := e.introspect(at, rsID, rsSecret); got["active"] != true {
			t.Fatalf("a foreign client revoked the token")
		}
	}
	if status, body := e.postForm("/oauth2/revoke", url.Values{"token": {at}}, "svc", secret); status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if got := e.introspect(at, rsID, rsSecret); got["active"] != false {
		t.Errorf("revoked token still active: %v", got)
	}
	if _, err := e.p.IntrospectAccessToken(e.ctx, at); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("IntrospectAccessToken of a revoked token: %v", err)
	}
	if _, err := e.p.IntrospectAccessToken(e.ctx, "gh_at_nonsense.nonsense"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("IntrospectAccessToken of garbage: %v", err)
	}
}

func TestIntrospectAccessTokenRefusesRefreshTokens(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true})
	tok, _ := e.codeFlow(e.newBrowser(), e.oauthConfig("web", secret, "openid", "offline_access"))
	info, err := e.p.IntrospectAccessToken(e.ctx, tok.AccessToken)
	if err != nil || info.UserID != e.user.ID || info.Subject != e.user.ID || info.ClientID != "web" {
		t.Fatalf("access token: %+v %v", info, err)
	}
	if _, err := e.p.IntrospectAccessToken(e.ctx, refreshToken(t, tok)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("refresh token accepted as access token: %v", err)
	}
}

func jwks(t *testing.T, e *testEnv) jose.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(e.issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

func TestJWTAccessToken(t *testing.T) {
	cases := []struct {
		name   string
		server store.AccessTokenFormat
		client store.AccessTokenFormat
	}{
		{"client asks for jwt", store.FormatOpaque, store.FormatJWT},
		{"server default jwt", store.FormatJWT, store.FormatDefault},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, func(o *Options) { o.AccessTokenFormat = tc.server })
			secret := e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}, AccessTokenFormat: tc.client})
			rsID, rsSecret := e.resourceServer()
			status, body := e.postForm("/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, "svc", secret)
			if status != http.StatusOK {
				t.Fatalf("token: %d %v", status, body)
			}
			at := body["access_token"].(string)

			tok, err := josejwt.ParseSigned(at, []jose.SignatureAlgorithm{jose.RS256})
			if err != nil {
				t.Fatalf("not a JWT: %v", err)
			}
			h := tok.Headers[0]
			if h.ExtraHeaders["typ"] != "at+jwt" || h.KeyID == "" {
				t.Fatalf("header typ=%v kid=%q", h.ExtraHeaders["typ"], h.KeyID)
			}
			set := jwks(t, e)
			keys := set.Key(h.KeyID)
			if len(keys) != 1 {
				t.Fatalf("kid %q not in the JWKS", h.KeyID)
			}
			var claims map[string]any
			if err := tok.Claims(keys[0].Key, &claims); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if claims["iss"] != e.issuer || claims["sub"] != "svc" || claims["client_id"] != "svc" || claims["scope"] != "api:read" {
				t.Errorf("claims %v", claims)
			}
			if aud := strList(claims["aud"]); len(aud) == 0 {
				t.Errorf("no aud: %v", claims)
			}
			for _, c := range []string{"exp", "iat", "jti"} {
				if claims[c] == nil {
					t.Errorf("no %s: %v", c, claims)
				}
			}

			// Stateful: introspection sees it, and revocation ends it.
			if got := e.introspect(at, rsID, rsSecret); got["active"] != true || got["sub"] != "svc" {
				t.Errorf("introspection %v", got)
			}
			if status, _ := e.postForm("/oauth2/revoke", url.Values{"token": {at}}, "svc", secret); status != http.StatusOK {
				t.Fatalf("revoke: %d", status)
			}
			if got := e.introspect(at, rsID, rsSecret); got["active"] != false {
				t.Errorf("revoked JWT still active: %v", got)
			}
		})
	}
}

func TestPrivateKeyJWTClientAuthentication(t *testing.T) {
	e := newTestEnv(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "c1", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.addClient(store.Client{ID: "pkjwt", TokenEndpointAuthMethod: "private_key_jwt", JWKS: pub,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"api:read"}})

	assertion := func(aud string, lifetime ...time.Duration) string {
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: "c1"}}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		raw, err := josejwt.Signed(sig).Claims(josejwt.Claims{
			Issuer: "pkjwt", Subject: "pkjwt", Audience: josejwt.Audience{aud}, ID: uuid.NewString(),
			IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(append(lifetime, 5*time.Minute)[0])),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	form := func(a string) url.Values {
		return url.Values{
			"grant_type": {"client_credentials"}, "scope": {"api:read"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
			"client_assertion":      {a},
		}
	}

	good := assertion(e.issuer + "/oauth2/token")
	if status, body := e.postForm("/oauth2/token", form(good), "", ""); status != http.StatusOK || body["access_token"] == nil {
		t.Fatalf("private_key_jwt: %d %v", status, body)
	}
	if status, body := e.postForm("/oauth2/token", form(good), "", ""); status != http.StatusUnauthorized && status != http.StatusBadRequest {
		t.Errorf("replayed assertion: %d %v", status, body)
	}
	if status, body := e.postForm("/oauth2/token", form(assertion("https://elsewhere.example/token")), "", ""); status != http.StatusUnauthorized {
		t.Errorf("assertion for another audience: %d %v", status, body)
	}
	// A long-lived assertion would pin its jti in the store for as long:
	// refused before anything is stored.
	long := assertion(e.issuer+"/oauth2/token", 48*time.Hour)
	if status, body := e.postForm("/oauth2/token", form(long), "", ""); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("assertion valid for 48h: %d %v", status, body)
	}
	// The earlier five-minute assertions' rows go first; nothing may be
	// left that outlives them.
	if _, err := e.store.DeleteExpiredJWTIDs(e.ctx, time.Now().Add(time.Hour), 100); err != nil {
		t.Fatal(err)
	}
	if n, err := e.store.DeleteExpiredJWTIDs(e.ctx, time.Now().Add(49*time.Hour), 100); err != nil || n != 0 {
		t.Errorf("a refused long-lived assertion left %d jti rows (%v)", n, err)
	}
}

func TestJWTBearerGrant(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "bridge", GrantTypes: []string{grantTypeJWTBearer}, Scopes: []string{"api:read", "api:write"}})
	rsID, rsSecret := e.resourceServer()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: &priv.PublicKey, KeyID: "p1", Algorithm: "ES256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	err = e.store.CreateTrustedIssuer(e.ctx, store.TrustedIssuer{
		ID: uuid.NewString(), Issuer: "https://partner.example", Subject: "partner-service", KeyID: "p1",
		PublicKey: pub, Scopes: []string{"api:read"}, ExpiresAt: time.Now().Add(time.Hour), CreatedAt: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	assertion := func(sub string) string {
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: "p1"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		raw, err := josejwt.Signed(sig).Claims(josejwt.Claims{
			Issuer: "https://partner.example", Subject: sub, Audience: josejwt.Audience{e.issuer + "/oauth2/token"},
			ID: uuid.NewString(), IssuedAt: josejwt.NewNumericDate(now), Expiry: josejwt.NewNumericDate(now.Add(5 * time.Minute)),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	form := func(a, scope string) url.Values {
		return url.Values{"grant_type": {grantTypeJWTBearer}, "assertion": {a}, "scope": {scope}}
	}

	a := assertion("partner-service")
	status, body := e.postForm("/oauth2/token", form(a, "api:read"), "bridge", secret)
	if status != http.StatusOK {
		t.Fatalf("jwt-bearer: %d %v", status, body)
	}
	if got := e.introspect(body["access_token"].(string), rsID, rsSecret); got["active"] != true || got["sub"] != "partner-service" || got["scope"] != "api:read" {
		t.Errorf("introspection %v", got)
	}

	cases := []struct {
		name, assertion, scope string
	}{
		{"replayed assertion", a, "api:read"},
		{"scope the issuer is not trusted with", assertion("partner-service"), "api:write"},
		{"subject the issuer may not assert", assertion("someone-else"), "api:read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := e.postForm("/oauth2/token", form(tc.assertion, tc.scope), "bridge", secret); status != http.StatusBadRequest {
				t.Errorf("%d %v", status, body)
			}
		})
	}
}
