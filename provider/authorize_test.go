package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/store"
)

func TestDiscoveryDocuments(t *testing.T) {
	e := newTestEnv(t)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(e.issuer + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var d map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
				t.Fatal(err)
			}
			if d["issuer"] != e.issuer {
				t.Errorf("issuer = %v, want %s", d["issuer"], e.issuer)
			}
			endpoints := map[string]string{
				"authorization_endpoint":                "/oauth2/auth",
				"token_endpoint":                        "/oauth2/token",
				"userinfo_endpoint":                     "/oauth2/userinfo",
				"jwks_uri":                              "/.well-known/jwks.json",
				"introspection_endpoint":                "/oauth2/introspect",
				"revocation_endpoint":                   "/oauth2/revoke",
				"pushed_authorization_request_endpoint": "/oauth2/par",
				"end_session_endpoint":                  "/oauth2/logout",
				"device_authorization_endpoint":         "/oauth2/device/auth",
			}
			for field, p := range endpoints {
				if d[field] != e.issuer+p {
					t.Errorf("%s = %v, want %s", field, d[field], e.issuer+p)
				}
			}
			lists := map[string][]string{
				"response_types_supported":              {"code"},
				"response_modes_supported":              {"query", "form_post"},
				"code_challenge_methods_supported":      {"S256"},
				"id_token_signing_alg_values_supported": {"RS256", "ES256"},
				"subject_types_supported":               {"public"},
				"scopes_supported":                      {"openid", "profile", "email", "offline_access", "roles", "area", "permissions", "phone"},
				"grant_types_supported":                 {"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"},
				"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
			}
			for field, want := range lists {
				if got := strList(d[field]); !slices.Equal(got, want) {
					t.Errorf("%s = %v, want %v", field, got, want)
				}
			}
			for _, field := range []string{"request_parameter_supported", "claims_parameter_supported", "require_pushed_authorization_requests", "request_uri_parameter_supported"} {
				if d[field] != false {
					t.Errorf("%s = %v, want false", field, d[field])
				}
			}
		})
	}

	// Every advertised endpoint is actually served (not 404 or 405 for its
	// method), and the JWKS is cacheable.
	resp, err := http.Get(e.issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Errorf("jwks: status %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	for _, path := range []string{"/oauth2/jwks", "/oauth2/userinfo"} {
		resp, err := http.Get(e.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
}

func strList(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

func TestCodeFlowPublicClientWithPKCE(t *testing.T) {
	e := newTestEnv(t)
	e.addClient(store.Client{ID: "spa", Public: true})
	cfg := e.oauthConfig("spa", "", "openid", "profile", "offline_access")

	tok, nonce := e.codeFlow(e.newBrowser(), cfg)

	if !strings.HasPrefix(tok.AccessToken, prefixAccessToken) {
		t.Errorf("access token %q lacks prefix %q", tok.AccessToken, prefixAccessToken)
	}
	if !strings.HasPrefix(refreshToken(t, tok), prefixRefreshToken) {
		t.Errorf("refresh token lacks prefix %q", prefixRefreshToken)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.verifier("spa").Verify(e.ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Issuer != e.issuer || !slices.Equal(idt.Audience, []string{"spa"}) || idt.Subject != e.user.ID || idt.Nonce != nonce {
		t.Errorf("ID token iss=%s aud=%v sub=%s nonce=%s", idt.Issuer, idt.Audience, idt.Subject, idt.Nonce)
	}
	if until := time.Until(idt.Expiry); until <= 50*time.Minute || until > 61*time.Minute {
		t.Errorf("ID token expires in %v, want about an hour", until)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims["preferred_username"] != "alice" || claims["name"] != "Alice Example" {
		t.Errorf("profile claims: %v", claims)
	}
	if _, ok := claims["email"]; ok {
		t.Errorf("email claim without the email scope: %v", claims)
	}
	if _, ok := claims["auth_time"]; !ok {
		t.Errorf("no auth_time: %v", claims)
	}
	// The ID token names the key that signed it.
	parsed, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	active, err := e.keys.Signer(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kid := parsed.Headers[0].KeyID; kid != active.ID {
		t.Errorf("ID token kid %q, want %q", kid, active.ID)
	}
}

func TestFormPostResponseMode(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true})
	b := e.newBrowser()
	cfg := e.oauthConfig("web", secret, "openid")
	b.authorize(cfg.AuthCodeURL("state-123456"))
	resp := b.get(cfg.AuthCodeURL("state-123456", oauth2.SetAuthURLParam("response_mode", "form_post")))
	if resp.status != http.StatusOK || resp.location() != "" {
		t.Fatalf("form_post: status %d Location %q", resp.status, resp.location())
	}
	if !strings.Contains(resp.body, `action="`+callbackURL+`"`) || !strings.Contains(resp.body, `name="code"`) {
		t.Errorf("form_post page does not post a code to the callback: %s", resp.body)
	}
	// Fragment (implicit-flow style) responses are refused.
	q := b.get(cfg.AuthCodeURL("state-123456", oauth2.SetAuthURLParam("response_mode", "fragment")))
	if q.status == http.StatusOK || strings.Contains(q.location(), "code=") {
		t.Errorf("fragment response mode accepted: %d %q", q.status, q.location())
	}
}

func TestCodeFlowConfidentialClientAndUserinfo(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web"})

	cases := []struct {
		name    string
		scopes  []string
		want    map[string]any
		missing []string
	}{
		{
			name:    "openid only",
			scopes:  []string{"openid"},
			want:    map[string]any{"sub": e.user.ID},
			missing: []string{"name", "email", "roles", "preferred_username"},
		},
		{
			name:   "profile email roles",
			scopes: []string{"openid", "profile", "email", "roles"},
			want: map[string]any{
				"sub": e.user.ID, "name": "Alice Example", "preferred_username": "alice",
				"email": "alice@example.com", "email_verified": true,
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := e.oauthConfig("web", secret, tc.scopes...)
			tok, nonce := e.codeFlow(e.newBrowser(), cfg)
			raw, _ := tok.Extra("id_token").(string)
			idt, err := e.verifier("web").Verify(e.ctx, raw)
			if err != nil {
				t.Fatalf("verify ID token: %v", err)
			}
			if idt.Nonce != nonce {
				t.Errorf("nonce %q, want %q", idt.Nonce, nonce)
			}
			if tok.RefreshToken != "" {
				t.Errorf("refresh token issued without offline_access")
			}

			info := userinfo(t, e, tok.AccessToken)
			for k, v := range tc.want {
				if info[k] != v {
					t.Errorf("userinfo %s = %v, want %v", k, info[k], v)
				}
			}
			for _, k := range tc.missing {
				if _, ok := info[k]; ok {
					t.Errorf("userinfo has %s without its scope: %v", k, info)
				}
			}
			if slices.Contains(tc.scopes, "roles") {
				// manager inherits user and viewer, not admin.
				if got := strList(info["roles"]); !slices.Equal(got, []string{"manager", "user", "viewer"}) {
					t.Errorf("roles = %v", got)
				}
			}
		})
	}

	t.Run("userinfo reads the current user record", func(t *testing.T) {
		cfg := e.oauthConfig("web", secret, "openid", "profile")
		tok, _ := e.codeFlow(e.newBrowser(), cfg)
		u, err := e.store.GetUser(e.ctx, e.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		u.FullName = "Alice Renamed"
		if err := e.store.UpdateUser(e.ctx, u); err != nil {
			t.Fatal(err)
		}
		if got := userinfo(t, e, tok.AccessToken)["name"]; got != "Alice Renamed" {
			t.Errorf("name = %v, want the current one", got)
		}
	})

	t.Run("userinfo refuses a bad token", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/oauth2/userinfo", nil)
		req.Header.Set("Authorization", "Bearer gh_at_bogus.bogus")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Bearer error="invalid_token"` {
			t.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

func userinfo(t *testing.T, e *testEnv, accessToken string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/oauth2/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: status %d (%s)", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConsent(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "third"})
	fpSecret := e.addClient(store.Client{ID: "first", FirstParty: true})

	t.Run("shown once then remembered", func(t *testing.T) {
		b := e.newBrowser()
		cfg := e.oauthConfig("third", secret, "openid", "profile")
		resp := b.get(cfg.AuthCodeURL("state-123456"))
		resp = b.get(b.signIn(resp, "alice").location())
		if !resp.isConsent() {
			t.Fatalf("first authorization: want the consent page, got %d %q", resp.status, resp.location())
		}
		if q := b.decide(resp, "allow").callback(t); q.Get("code") == "" {
			t.Fatalf("no code after allow: %v", q)
		}
		c, err := e.store.GetConsent(e.ctx, e.user.ID, "third", time.Now())
		if err != nil || !slices.Equal(c.Scopes, []string{"openid", "profile"}) {
			t.Fatalf("stored consent %v, %v", c, err)
		}
		// Same scopes (or fewer): straight back to the client.
		for _, scopes := range [][]string{{"openid", "profile"}, {"openid"}} {
			cfg := e.oauthConfig("third", secret, scopes...)
			if q := b.get(cfg.AuthCodeURL("state-123456")).callback(t); q.Get("code") == "" {
				t.Fatalf("scopes %v: want a code without consent, got %v", scopes, q)
			}
		}
		// A new scope asks again, as does prompt=consent.
		cfg = e.oauthConfig("third", secret, "openid", "email")
		if resp := b.get(cfg.AuthCodeURL("state-123456")); !resp.isConsent() {
			t.Errorf("new scope: want the consent page, got %d %q", resp.status, resp.location())
		}
		cfg = e.oauthConfig("third", secret, "openid")
		if resp := b.get(cfg.AuthCodeURL("state-123456", oauth2.SetAuthURLParam("prompt", "consent"))); !resp.isConsent() {
			t.Errorf("prompt=consent: want the consent page, got %d %q", resp.status, resp.location())
		}
	})

	t.Run("first party skips consent", func(t *testing.T) {
		b := e.newBrowser()
		cfg := e.oauthConfig("first", fpSecret, "openid", "profile", "email")
		resp := b.get(cfg.AuthCodeURL("state-123456"))
		resp = b.get(b.signIn(resp, "alice").location())
		if q := resp.callback(t); q.Get("code") == "" {
			t.Fatalf("want a code, got %v", q)
		}
	})

	t.Run("deny", func(t *testing.T) {
		b := e.newBrowser()
		cfg := e.oauthConfig("third", secret, "openid", "roles")
		resp := b.get(cfg.AuthCodeURL("state-123456"))
		resp = b.get(b.signIn(resp, "alice").location())
		q := b.decide(resp, "deny").callback(t)
		if q.Get("error") != "access_denied" || q.Get("code") != "" || q.Get("state") != "state-123456" {
			t.Errorf("deny: %v", q)
		}
	})

	t.Run("form bound to its login session", func(t *testing.T) {
		b := e.newBrowser()
		cfg := e.oauthConfig("third", secret, "openid", "offline_access")
		resp := b.get(cfg.AuthCodeURL("state-123456"))
		resp = b.get(b.signIn(resp, "alice").location())
		action, fields := resp.form(t)
		// Another request's parameters with this form's binding.
		fields.Set("request", strings.Replace(fields.Get("request"), "offline_access", "roles", 1))
		fields.Set("decision", "allow")
		got := b.post(action, fields)
		if got.status != http.StatusBadRequest || got.location() != "" {
			t.Errorf("tampered form: status %d Location %q", got.status, got.location())
		}
	})
}

func TestPrompt(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web", FirstParty: true})
	cfg := e.oauthConfig("web", secret, "openid")

	t.Run("none without a session", func(t *testing.T) {
		q := e.newBrowser().get(cfg.AuthCodeURL("state-123456", oauth2.SetAuthURLParam("prompt", "none"))).callback(t)
		if q.Get("error") != "login_required" || q.Get("state") != "state-123456" {
			t.Errorf("got %v", q)
		}
	})

	t.Run("none with a session", func(t *testing.T) {
		b := e.newBrowser()
		b.authorize(cfg.AuthCodeURL("state-123456"))
		q := b.get(cfg.AuthCodeURL("state-123456", oauth2.SetAuthURLParam("prompt", "none"))).callback(t)
		if q.Get("code") == "" {
			t.Errorf("got %v", q)
		}
	})

	t.Run("login forces a new sign-in once", func(t *testing.T) {
		b := e.newBrowser()
		b.authorize(cfg.AuthCodeURL("state-123456"))
		resp := b.get(cfg.AuthCodeURL("state-123456", oauth2.SetAuthURLParam("prompt", "login")))
		if !resp.isLogin(t) {
			t.Fatalf("prompt=login with a session: want the login page, got %d %q", resp.status, resp.location())
		}
		back := b.signIn(resp, "alice").location()
		if strings.Contains(back, "prompt=login") {
			t.Errorf("return_to keeps prompt=login: %s", back)
		}
		if q := b.get(back).callback(t); q.Get("code") == "" {
			t.Errorf("after login: %v", q)
		}
	})
}

func TestAuthorizeErrors(t *testing.T) {
	e := newTestEnv(t)
	e.addClient(store.Client{ID: "spa", Public: true})
	e.addClient(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}})
	b := e.newBrowser()
	b.authorize(e.oauthConfig("spa", "", "openid").AuthCodeURL("state-123456", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))

	base := url.Values{
		"client_id":     {"spa"},
		"response_type": {"code"},
		"scope":         {"openid"},
		"redirect_uri":  {callbackURL},
		"state":         {"state-123456"},
	}
	with := func(kv ...string) string {
		v := url.Values{}
		for k, vals := range base {
			v[k] = vals
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return "/oauth2/auth?" + v.Encode()
	}

	// Errors about the client or its redirect URI: an HTML page, never a
	// redirect.
	pageCases := []struct {
		name string
		url  string
	}{
		{"unregistered redirect_uri", with("redirect_uri", "https://evil.example/cb", "code_challenge", "x"+strings.Repeat("a", 42), "code_challenge_method", "S256")},
		{"unknown client", with("client_id", "nope", "redirect_uri", "https://evil.example/cb")},
	}
	for _, tc := range pageCases {
		t.Run(tc.name, func(t *testing.T) {
			resp := b.get(tc.url)
			if resp.status != http.StatusBadRequest || resp.location() != "" {
				t.Fatalf("status %d Location %q", resp.status, resp.location())
			}
			if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}

	// Errors the client may hear about: redirected to it.
	redirectCases := []struct {
		name, url, want string
	}{
		{"public client without PKCE", with(), "invalid_request"},
		{"plain PKCE", with("code_challenge", strings.Repeat("p", 43), "code_challenge_method", "plain"), "invalid_request"},
		{"PKCE without method (plain)", with("code_challenge", strings.Repeat("p", 43)), "invalid_request"},
		{"scope not allowed", with("scope", "openid admin", "code_challenge", strings.Repeat("p", 43), "code_challenge_method", "S256"), "invalid_scope"},
		{"client without the code grant", with("client_id", "svc", "code_challenge", strings.Repeat("p", 43), "code_challenge_method", "S256"), "unauthorized_client"},
		{"implicit flow", with("response_type", "token", "code_challenge", strings.Repeat("p", 43), "code_challenge_method", "S256"), "unsupported_response_type"},
		// Without openid fosite ignores request objects; we refuse them.
		{"request object", with("scope", "profile", "request", "eyJhbGciOiJub25lIn0.e30.", "code_challenge", strings.Repeat("p", 43), "code_challenge_method", "S256"), "request_not_supported"},
		// A max_age that is not a number of seconds must not be read as
		// "no limit" (found by the fuzz target): the session is there, and
		// a code would be issued however old the sign-in.
		{"max_age not a number", with("max_age", "abc", "prompt", "none", "code_challenge", strings.Repeat("p", 43), "code_challenge_method", "S256"), "invalid_request"},
		{"negative max_age", with("max_age", "-5", "code_challenge", strings.Repeat("p", 43), "code_challenge_method", "S256"), "invalid_request"},
	}
	for _, tc := range redirectCases {
		t.Run(tc.name, func(t *testing.T) {
			q := b.get(tc.url).callback(t)
			if q.Get("error") != tc.want || q.Get("code") != "" {
				t.Errorf("error = %q (%s), want %q", q.Get("error"), q.Get("error_description"), tc.want)
			}
		})
	}
}

func TestPushedAuthorizationRequest(t *testing.T) {
	e := newTestEnv(t)
	secret := e.addClient(store.Client{ID: "web"})
	b := e.newBrowser()
	verifier := oauth2.GenerateVerifier()
	cfg := e.oauthConfig("web", secret, "openid", "profile")

	push := url.Values{
		"response_type":         {"code"},
		"client_id":             {"web"},
		"redirect_uri":          {callbackURL},
		"scope":                 {"openid profile"},
		"state":                 {"state-par-123"},
		"nonce":                 {"nonce-par-123"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
	status, body := e.postForm("/oauth2/par", push, "web", secret)
	if status != http.StatusCreated {
		t.Fatalf("PAR: status %d: %v", status, body)
	}
	requestURI, _ := body["request_uri"].(string)
	if !strings.HasPrefix(requestURI, "urn:ietf:params:oauth:request_uri:") {
		t.Fatalf("request_uri %q", requestURI)
	}

	// The browser carries only client_id and request_uri; the login round
	// trip must bring the pushed parameters back although the request_uri
	// is spent.
	authURL := "/oauth2/auth?" + url.Values{"client_id": {"web"}, "request_uri": {requestURI}}.Encode()
	q := b.authorize(authURL)
	if q.Get("state") != "state-par-123" || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	tok, err := cfg.Exchange(e.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.verifier("web").Verify(e.ctx, raw)
	if err != nil || idt.Nonce != "nonce-par-123" {
		t.Fatalf("ID token %v nonce %q", err, idt.Nonce)
	}

	// One use only.
	resp := b.get(authURL)
	if resp.status != http.StatusBadRequest && resp.location() == "" {
		t.Fatalf("reused request_uri: status %d", resp.status)
	}
	if loc := resp.location(); loc != "" {
		u, _ := url.Parse(loc)
		if u.Query().Get("code") != "" {
			t.Fatalf("reused request_uri yielded a code")
		}
	}

	// Client authentication is required.
	if status, _ := e.postForm("/oauth2/par", push, "web", "wrong"); status != http.StatusUnauthorized {
		t.Errorf("PAR with a wrong secret: status %d", status)
	}
}

func TestCORS(t *testing.T) {
	e := newTestEnv(t)
	e.addClient(store.Client{ID: "spa", Public: true, AllowedOrigins: []string{"https://app.example"}})

	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodOptions, e.issuer+"/oauth2/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	t.Run("allowed origin", func(t *testing.T) {
		resp := preflight("https://app.example")
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Content-Type") || h.Get("Access-Control-Max-Age") == "" {
			t.Errorf("status %d headers %v", resp.StatusCode, h)
		}
		if !slices.Contains(h.Values("Vary"), "Origin") {
			t.Errorf("no Vary: Origin: %v", h)
		}
	})

	t.Run("foreign origin", func(t *testing.T) {
		resp := preflight("https://evil.example")
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("foreign origin got %s: %v", k, resp.Header.Values(k))
			}
		}
	})

	t.Run("actual request", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/openid-configuration", nil)
		req.Header.Set("Origin", "https://app.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
			t.Errorf("headers %v", resp.Header)
		}
	})
}
