package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestDiscovery reads both metadata documents and checks that they list
// every endpoint under the issuer, advertise what the server does (and
// nothing it does not), and that every endpoint listed answers.
func TestDiscovery(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)

	oidcDoc := getJSON(t, ts.endpoint("/.well-known/openid-configuration"))
	asDoc := getJSON(t, ts.endpoint("/.well-known/oauth-authorization-server"))
	for name, doc := range map[string]oauthResponse{"openid-configuration": oidcDoc, "oauth-authorization-server": asDoc} {
		if doc.Status != http.StatusOK {
			t.Fatalf("%s: status %d, want 200\n%s", name, doc.Status, doc.Raw)
		}
		if got := doc.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
			t.Errorf("%s: Content-Type %q, want application/json", name, got)
		}
		if got := doc.str("issuer"); got != ts.URL {
			t.Errorf("%s: issuer %q, want %q", name, got, ts.URL)
		}
		wantEndpoints := map[string]string{
			"authorization_endpoint":                "/oauth2/auth",
			"token_endpoint":                        "/oauth2/token",
			"introspection_endpoint":                "/oauth2/introspect",
			"revocation_endpoint":                   "/oauth2/revoke",
			"pushed_authorization_request_endpoint": "/oauth2/par",
			"device_authorization_endpoint":         "/oauth2/device/auth",
		}
		if name == "openid-configuration" {
			wantEndpoints["userinfo_endpoint"] = "/oauth2/userinfo"
			wantEndpoints["end_session_endpoint"] = "/oauth2/logout"
		}
		for key, path := range wantEndpoints {
			if got := doc.str(key); got != ts.endpoint(path) {
				t.Errorf("%s: %s = %q, want %q", name, key, got, ts.endpoint(path))
			}
		}
		// The JWKS is served at both addresses; discovery may name either.
		if got := doc.str("jwks_uri"); got != ts.endpoint("/oauth2/jwks") && got != ts.endpoint("/.well-known/jwks.json") {
			t.Errorf("%s: jwks_uri = %q, want %s or %s", name, got, ts.endpoint("/oauth2/jwks"), ts.endpoint("/.well-known/jwks.json"))
		}
		wantList(t, name, doc, "code_challenge_methods_supported", []string{"S256"}, []string{"plain"})
		wantList(t, name, doc, "grant_types_supported",
			[]string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange",
				"urn:ietf:params:oauth:grant-type:device_code"},
			[]string{"implicit", "password"})
		wantList(t, name, doc, "response_types_supported", []string{"code"}, []string{"token", "id_token token"})
		wantList(t, name, doc, "token_endpoint_auth_methods_supported",
			[]string{"client_secret_basic", "client_secret_post", "none"}, nil)
		wantList(t, name, doc, "scopes_supported", []string{"openid", "profile", "email", "offline_access"}, nil)
	}
	wantList(t, "openid-configuration", oidcDoc, "id_token_signing_alg_values_supported", []string{"RS256", "ES256"}, []string{"none", "HS256"})
	wantList(t, "openid-configuration", oidcDoc, "subject_types_supported", []string{"public"}, nil)
	wantList(t, "openid-configuration", oidcDoc, "claims_supported", []string{"sub", "iss", "aud", "exp", "iat", "email", "name"}, nil)

	jwks := getJSON(t, oidcDoc.str("jwks_uri"))
	if jwks.Status != http.StatusOK {
		t.Fatalf("jwks: status %d", jwks.Status)
	}
	if other := getJSON(t, ts.endpoint("/oauth2/jwks")); other.Status != http.StatusOK || other.Raw != jwks.Raw {
		t.Errorf("/oauth2/jwks: status %d, same key set as jwks_uri: %v", other.Status, other.Raw == jwks.Raw)
	}
	keys, _ := jwks.JSON["keys"].([]any)
	if len(keys) == 0 {
		t.Fatalf("jwks has no keys: %s", jwks.Raw)
	}
	for _, k := range keys {
		key := k.(map[string]any)
		if key["kid"] == "" || key["kid"] == nil {
			t.Errorf("JWK without kid: %v", key)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := key[private]; ok {
				t.Fatalf("JWKS publishes private key member %q", private)
			}
		}
	}

	// Every endpoint listed answers: a deliberate status for a request
	// without credentials or parameters, never 404, 405 or a server error.
	// (What exactly the client-authenticated endpoints answer is
	// TestClientAuthenticationRequired's subject.)
	browser := ts.newBrowser(t)
	endpoints := []struct {
		name, key, method string
		want              []int
	}{
		{"authorize without parameters", "authorization_endpoint", http.MethodGet, []int{http.StatusBadRequest}},
		{"token with an empty body", "token_endpoint", http.MethodPost, []int{http.StatusBadRequest}},
		{"userinfo without a token", "userinfo_endpoint", http.MethodGet, []int{http.StatusUnauthorized}},
		{"introspection without client authentication", "introspection_endpoint", http.MethodPost, []int{http.StatusBadRequest, http.StatusUnauthorized}},
		{"revocation without client authentication", "revocation_endpoint", http.MethodPost, []int{http.StatusBadRequest, http.StatusUnauthorized}},
		{"PAR without client authentication", "pushed_authorization_request_endpoint", http.MethodPost, []int{http.StatusBadRequest, http.StatusUnauthorized}},
		{"end session without a session", "end_session_endpoint", http.MethodGet, []int{http.StatusOK}},
		{"JWKS", "jwks_uri", http.MethodGet, []int{http.StatusOK}},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			target := oidcDoc.str(ep.key)
			var resp *http.Response
			if ep.method == http.MethodGet {
				resp = get(t, browser, target)
			} else {
				var form url.Values
				if ep.key != "token_endpoint" {
					form = url.Values{"token": {"gh_at_x.y"}, "response_type": {"code"}}
				}
				resp = postForm(t, httpClient(), target, form, nil)
			}
			closeBody(resp)
			if !containsInt(ep.want, resp.StatusCode) {
				t.Errorf("%s %s: status %d, want %v", ep.method, target, resp.StatusCode, ep.want)
			}
		})
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		r := getJSON(t, ts.endpoint(path))
		if r.Status != http.StatusOK {
			t.Errorf("%s: status %d, want 200 (%s)", path, r.Status, r.Raw)
		}
	}
}

// wantList checks that the metadata list key contains every value of want
// and none of forbidden.
func wantList(t *testing.T, doc string, r oauthResponse, key string, want, forbidden []string) {
	t.Helper()
	raw, ok := r.JSON[key].([]any)
	if !ok {
		t.Errorf("%s: %s missing or not a list", doc, key)
		return
	}
	got := make([]string, 0, len(raw))
	for _, v := range raw {
		s, _ := v.(string)
		got = append(got, s)
	}
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("%s: %s = %v, want it to contain %q", doc, key, got, w)
		}
	}
	for _, f := range forbidden {
		if contains(got, f) {
			t.Errorf("%s: %s = %v advertises %q, which the server must not support", doc, key, got, f)
		}
	}
}

// TestClientAuthenticationRequired: every endpoint that needs client
// authentication answers a request that carries none with invalid_client
// and 401 (RFC 6749 section 5.2: "no client authentication included" is
// invalid_client), and does what was asked for no one.
func TestClientAuthenticationRequired(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rs := authOf(ts.resourceServer(t))
	tok, _, _ := ts.newRP(t, client).signIn(t, user)

	cases := []struct {
		name, path string
		form       url.Values
	}{
		{"token", "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}},
		{"introspection", "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}},
		{"revocation", "/oauth2/revoke", url.Values{"token": {tok.AccessToken}}},
		{"PAR", "/oauth2/par", url.Values{"response_type": {"code"}, "redirect_uri": {client.RedirectURIs[0]}, "scope": {"openid"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.post(t, tc.path, tc.form, clientAuth{})
			if _, ok := r.JSON["access_token"]; ok {
				t.Fatalf("tokens issued without client authentication")
			}
			if _, ok := r.JSON["active"]; ok {
				t.Fatalf("introspection answered without client authentication: %s", r.Raw)
			}
			// RFC 7662 §2.3 answers a failed client authentication as RFC
			// 6749 §5.2 does: invalid_client, 401, with a challenge.
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="`+ts.URL+`"` {
				t.Errorf("WWW-Authenticate %q, want a Basic challenge for the issuer", got)
			}
		})
	}
	if !ts.isActive(t, tok.AccessToken, rs) || !ts.isActive(t, tok.RefreshToken, rs) {
		t.Errorf("unauthenticated requests changed the tokens")
	}
}
