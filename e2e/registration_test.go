package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/janitor"
	"github.com/gatehouse/gatehouse/store"
)

// Dynamic client registration (RFC 7591/7592), resource indicators (RFC
// 8707) and protected resource metadata (RFC 9728): what an MCP-style
// client does to find, register with and call the resource API.

// initialAccessToken is the token the registration tests configure (by its
// digest) to admit confidential clients.
const initialAccessToken = "iat-for-the-registration-tests-0123456789"

func withRegistration(mutate func(*config.ClientRegistration)) func(*config.Config) {
	return func(c *config.Config) {
		digest := sha256.Sum256([]byte(initialAccessToken))
		c.ClientRegistration = config.ClientRegistration{
			Enabled:             true,
			OpenPublic:          true,
			InitialAccessTokens: []string{hex.EncodeToString(digest[:])},
			UnusedClientTTL:     30 * 24 * time.Hour,
			AllowedScopes:       []string{"openid", "profile", "email", "offline_access", "gatehouse:api"},
		}
		if mutate != nil {
			mutate(&c.ClientRegistration)
		}
	}
}

// jsonRequest sends body (JSON-encoded unless it is a string) with method
// to rawURL, with a bearer token unless token is "".
func jsonRequest(t *testing.T, method, rawURL, token string, body any) oauthResponse {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(ctxT(t), method, rawURL, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, httpClient(), req)
}

func (ts *testServer) register(t *testing.T, token string, metadata map[string]any) oauthResponse {
	t.Helper()
	r := jsonRequest(t, http.MethodPost, ts.endpoint("/oauth2/register"), token, metadata)
	ts.secret(r.str("registration_access_token"), r.str("client_secret"))
	return r
}

// wantRegistrationError fails unless r is the RFC 7591 error code with
// status; a 401 must carry the bearer challenge.
func wantRegistrationError(t *testing.T, r oauthResponse, status int, code string) {
	t.Helper()
	wantOAuthError(t, r, status, code)
	if status == http.StatusUnauthorized && !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("401 without a Bearer invalid_token challenge: %q", r.Header.Get("WWW-Authenticate"))
	}
}

var resourceMetadataParam = regexp.MustCompile(`resource_metadata="([^"]+)"`)

// The MCP flow: the API's 401 names its metadata, which names the
// authorization server, whose metadata names the registration endpoint;
// the client registers itself openly as a public client, signs the person
// in with PKCE for the API as resource, and calls the API.
func TestMCPDiscoverRegisterAuthorizeCall(t *testing.T) {
	ts := startServer(t, withRegistration(nil))
	user := ts.createUser(t, "user")
	api := ts.URL + "/api/v1"

	// 1. The API's challenge.
	r := jsonRequest(t, http.MethodGet, api+"/users/me", "", nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("API without a token: status %d, want 401", r.Status)
	}
	m := resourceMetadataParam.FindStringSubmatch(r.Header.Get("WWW-Authenticate"))
	if m == nil {
		t.Fatalf("WWW-Authenticate %q names no resource_metadata", r.Header.Get("WWW-Authenticate"))
	}
	if m[1] != ts.URL+"/.well-known/oauth-protected-resource" {
		t.Errorf("resource_metadata = %q", m[1])
	}

	// 2. Protected resource metadata (RFC 9728), at both addresses.
	prm := getJSON(t, m[1])
	if prm.Status != http.StatusOK {
		t.Fatalf("protected resource metadata: status %d\n%s", prm.Status, prm.Raw)
	}
	if prm.str("resource") != api {
		t.Errorf("resource = %q, want %q", prm.str("resource"), api)
	}
	servers, _ := prm.JSON["authorization_servers"].([]any)
	if len(servers) != 1 || servers[0] != ts.URL {
		t.Fatalf("authorization_servers = %v, want [%s]", servers, ts.URL)
	}
	if !contains(strList(prm.JSON["scopes_supported"]), "gatehouse:api") || !contains(strList(prm.JSON["bearer_methods_supported"]), "header") {
		t.Errorf("scopes_supported %v / bearer_methods_supported %v", prm.JSON["scopes_supported"], prm.JSON["bearer_methods_supported"])
	}
	if prm.str("resource_documentation") == "" {
		t.Error("no resource_documentation")
	}
	if rfc := getJSON(t, ts.URL+"/.well-known/oauth-protected-resource/api/v1"); rfc.Status != http.StatusOK || rfc.str("resource") != api {
		t.Errorf("RFC 9728 §3.1 location: status %d resource %q", rfc.Status, rfc.str("resource"))
	}

	// 3. Authorization server metadata (RFC 8414).
	as := getJSON(t, servers[0].(string)+"/.well-known/oauth-authorization-server")
	regEndpoint := as.str("registration_endpoint")
	if regEndpoint != ts.URL+"/oauth2/register" {
		t.Fatalf("registration_endpoint = %q", regEndpoint)
	}

	// 4. Open registration of a public client; unknown metadata is ignored.
	redirect := "http://127.0.0.1:1/callback"
	reg := jsonRequest(t, http.MethodPost, regEndpoint, "", map[string]any{
		"client_name":                "MCP inspector",
		"redirect_uris":              []string{redirect},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
		"scope":                      "openid offline_access gatehouse:api",
		"client_uri":                 "https://mcp.example/",
		"contacts":                   []string{"ops@mcp.example"},
		"software_statement_unknown": map[string]any{"x": 1},
	})
	if reg.Status != http.StatusCreated {
		t.Fatalf("register: status %d\n%s", reg.Status, reg.Raw)
	}
	regToken := reg.str("registration_access_token")
	ts.secret(regToken)
	clientID := reg.str("client_id")
	switch {
	case !strings.HasPrefix(clientID, "dcr_"):
		t.Errorf("client_id %q lacks the dcr_ prefix", clientID)
	case reg.str("client_secret") != "":
		t.Error("a public client was given a secret")
	case regToken == "":
		t.Error("no registration_access_token")
	case reg.str("registration_client_uri") != regEndpoint+"/"+clientID:
		t.Errorf("registration_client_uri = %q", reg.str("registration_client_uri"))
	case reg.JSON["client_secret_expires_at"] != float64(0):
		t.Errorf("client_secret_expires_at = %v, want 0", reg.JSON["client_secret_expires_at"])
	case reg.JSON["client_id_issued_at"] == nil || reg.JSON["client_id_issued_at"].(float64) <= 0:
		t.Errorf("client_id_issued_at = %v", reg.JSON["client_id_issued_at"])
	case reg.str("token_endpoint_auth_method") != "none" || reg.str("scope") != "openid offline_access gatehouse:api":
		t.Errorf("metadata echoed: %s", reg.Raw)
	}
	if reg.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", reg.Header.Get("Cache-Control"))
	}
	stored, err := ts.Store.GetClient(ctxT(t), clientID)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(regToken))
	if !stored.Registered || stored.FirstParty || !stored.Public || !bytes.Equal(stored.RegistrationTokenHash, digest[:]) ||
		stored.ClientURI != "https://mcp.example/" || len(stored.Contacts) != 1 {
		t.Fatalf("stored client: registered %v first-party %v public %v token digest ok %v client_uri %q contacts %v",
			stored.Registered, stored.FirstParty, stored.Public, bytes.Equal(stored.RegistrationTokenHash, digest[:]), stored.ClientURI, stored.Contacts)
	}
	// Even marked first-party behind the domain's back (psql, an old
	// CLI), a registered client never skips the consent page.
	stored.FirstParty = true
	if err := ts.Store.UpdateClient(ctxT(t), stored); err != nil {
		t.Fatal(err)
	}

	// 5. Authorization code + PKCE with resource, through x/oauth2.
	rp := &relyingParty{ts: ts, Client: testClient{Client: store.Client{ID: clientID, RedirectURIs: []string{redirect}}},
		OAuth2: oauth2.Config{
			ClientID:    clientID,
			Endpoint:    oauth2.Endpoint{AuthURL: as.str("authorization_endpoint"), TokenURL: as.str("token_endpoint"), AuthStyle: oauth2.AuthStyleInParams},
			RedirectURL: redirect,
			Scopes:      []string{"openid", "offline_access", "gatehouse:api"},
		}}
	resource := oauth2.SetAuthURLParam("resource", api)
	ar := rp.newAuthRequest(t, false, resource)
	code, res := rp.code(t, ts.newBrowser(t), ar, &user)
	if !res.SawConsent {
		t.Error("a registered client got a code without the consent page")
	}
	tok, err := rp.OAuth2.Exchange(ctxT(t), code, oauth2.VerifierOption(ar.Verifier), resource)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	ts.secret(tok.AccessToken, tok.RefreshToken)

	// The token's audience is the API: introspection says so.
	rs := ts.createConfidentialClient(t, nil)
	in := ts.introspect(t, tok.AccessToken, authOf(rs))
	if in.JSON["active"] != true || !contains(strList(in.JSON["aud"]), api) {
		t.Fatalf("introspection: %s, want active with aud %s", in.Raw, api)
	}

	// 6. The API call.
	me := jsonRequest(t, http.MethodGet, api+"/users/me", tok.AccessToken, nil)
	if me.Status != http.StatusOK || me.str("id") != user.ID {
		t.Fatalf("GET /users/me: status %d\n%s", me.Status, me.Raw)
	}

	// A refresh keeps the API as the audience (fosite checks a refreshed
	// grant's audience against the client's, which includes the API).
	refreshed, err := rp.OAuth2.TokenSource(ctxT(t), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	ts.secret(refreshed.AccessToken, refreshed.RefreshToken)
	if in := ts.introspect(t, refreshed.AccessToken, authOf(rs)); !contains(strList(in.JSON["aud"]), api) {
		t.Errorf("refreshed token aud = %v, want %s", in.JSON["aud"], api)
	}
	if r := ts.refresh(t, refreshed.RefreshToken, clientAuth{ID: clientID}); r.Status != http.StatusOK {
		t.Errorf("second refresh: status %d\n%s", r.Status, r.Raw)
	} else {
		ts.secret(r.str("access_token"), r.str("refresh_token"))
		bad := ts.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")},
			"resource": {"https://evil.example/"}}, clientAuth{ID: clientID})
		wantOAuthError(t, bad, http.StatusBadRequest, "invalid_target")
	}

	// The token counted as a use of the client.
	after, err := ts.Store.GetClient(ctxT(t), clientID)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastUsedAt == nil || time.Since(*after.LastUsedAt) > time.Hour {
		t.Errorf("LastUsedAt = %v after a token, want about now", after.LastUsedAt)
	}

	// The admin API shows the flag.
	ops := ts.serviceClient(t, []string{"gatehouse:api"}, "admin")
	adminTok := ts.ccToken(t, authOf(ops), "gatehouse:api").str("access_token")
	view := jsonRequest(t, http.MethodGet, api+"/clients/"+clientID, adminTok, nil)
	if view.Status != http.StatusOK || view.JSON["registered"] != true {
		t.Errorf("admin client view: status %d registered %v", view.Status, view.JSON["registered"])
	}
	// An administrator cannot make it first-party through the domain.
	stored.FirstParty = false
	if err := ts.Store.UpdateClient(ctxT(t), stored); err != nil {
		t.Fatal(err)
	}
	patch := jsonRequest(t, http.MethodPatch, api+"/clients/"+clientID, adminTok, `{"first_party": true}`)
	if patch.Status != http.StatusBadRequest && patch.Status != http.StatusUnprocessableEntity {
		t.Errorf("PATCH first_party on a registered client: status %d, want a validation error\n%s", patch.Status, patch.Raw)
	}

	// The registration is audited, with no credential in it.
	entries := ts.auditOf(t, "client.register", clientID)
	if len(entries) != 1 || entries[0].ActorID != clientID {
		t.Fatalf("client.register audit entries: %+v", entries)
	}
	if raw := string(entries[0].Changes); strings.Contains(raw, regToken) || strings.Contains(raw, hex.EncodeToString(digest[:])) {
		t.Errorf("audit entry holds the registration token or its digest: %s", raw)
	}
}

func strList(v any) []string {
	var out []string
	switch l := v.(type) {
	case []any:
		for _, s := range l {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
	case string:
		out = append(out, l)
	}
	return out
}

// The registration policy's refusals, the initial access token, and RFC
// 7592's management with the registration access token.
func TestClientRegistrationPolicyAndManagement(t *testing.T) {
	ts := startServer(t, withRegistration(func(r *config.ClientRegistration) {
		r.AllowedScopes = []string{"openid", "profile"}
	}))
	public := func(redirects ...string) map[string]any {
		return map[string]any{"token_endpoint_auth_method": "none", "redirect_uris": redirects}
	}

	t.Run("refused metadata", func(t *testing.T) {
		for _, tc := range []struct {
			name     string
			metadata map[string]any
			code     string
		}{
			{"http on a foreign host", public("http://mcp.example/callback"), "invalid_redirect_uri"},
			{"a fragment", public("https://mcp.example/cb#x"), "invalid_redirect_uri"},
			{"a custom scheme", public("com.example.app:/cb"), "invalid_redirect_uri"},
			{"no redirect URI", public(), "invalid_redirect_uri"},
			{"a scope the policy does not allow", map[string]any{"token_endpoint_auth_method": "none",
				"redirect_uris": []string{"https://mcp.example/cb"}, "scope": "openid gatehouse:api"}, "invalid_client_metadata"},
			{"a logo that is no URL", map[string]any{"token_endpoint_auth_method": "none",
				"redirect_uris": []string{"https://mcp.example/cb"}, "logo_uri": "javascript:alert(1)"}, "invalid_client_metadata"},
			{"the implicit grant", map[string]any{"token_endpoint_auth_method": "none",
				"redirect_uris": []string{"https://mcp.example/cb"}, "grant_types": []string{"implicit"}}, "invalid_client_metadata"},
			{"redirect_uris of the wrong type", map[string]any{"token_endpoint_auth_method": "none", "redirect_uris": "https://mcp.example/cb"}, "invalid_client_metadata"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantRegistrationError(t, ts.register(t, "", tc.metadata), http.StatusBadRequest, tc.code)
			})
		}
		r := jsonRequest(t, http.MethodPost, ts.endpoint("/oauth2/register"), "", "not json")
		wantRegistrationError(t, r, http.StatusBadRequest, "invalid_client_metadata")
		big := `{"client_name": "` + strings.Repeat("a", 70<<10) + `"}`
		r = jsonRequest(t, http.MethodPost, ts.endpoint("/oauth2/register"), "", big)
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("a 70 KiB body: status %d, want 413", r.Status)
		}
	})

	confidential := map[string]any{"client_name": "Backend", "grant_types": []string{"client_credentials"}, "scope": "openid"}
	t.Run("confidential without an initial access token", func(t *testing.T) {
		wantRegistrationError(t, ts.register(t, "", confidential), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("a wrong initial access token", func(t *testing.T) {
		wantRegistrationError(t, ts.register(t, "not-the-token", confidential), http.StatusUnauthorized, "invalid_token")
		// Wrong is wrong even where none is needed.
		wantRegistrationError(t, ts.register(t, "not-the-token", public("https://mcp.example/cb")), http.StatusUnauthorized, "invalid_token")
	})

	// A good one admits a confidential client, whose secret works.
	reg := ts.register(t, initialAccessToken, confidential)
	if reg.Status != http.StatusCreated {
		t.Fatalf("register with the initial access token: status %d\n%s", reg.Status, reg.Raw)
	}
	id, secret, regToken := reg.str("client_id"), reg.str("client_secret"), reg.str("registration_access_token")
	if secret == "" || reg.str("token_endpoint_auth_method") != "client_secret_basic" {
		t.Fatalf("confidential registration: %s", reg.Raw)
	}
	tok := ts.token(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, clientAuth{ID: id, Secret: secret})
	if tok.Status != http.StatusOK || tok.str("access_token") == "" {
		t.Fatalf("client_credentials with the registered secret: status %d\n%s", tok.Status, tok.Raw)
	}
	ts.secret(tok.str("access_token"))
	if r := ts.token(t, url.Values{"grant_type": {"client_credentials"}}, clientAuth{ID: id, Secret: secret + "x"}); r.Status != http.StatusUnauthorized {
		t.Errorf("a wrong secret: status %d, want 401", r.Status)
	}

	uri := reg.str("registration_client_uri")
	t.Run("read", func(t *testing.T) {
		r := jsonRequest(t, http.MethodGet, uri, regToken, nil)
		if r.Status != http.StatusOK || r.str("client_id") != id || r.str("client_name") != "Backend" || r.str("client_secret") != "" || r.str("registration_access_token") != "" {
			t.Fatalf("GET: status %d\n%s", r.Status, r.Raw)
		}
		wantRegistrationError(t, jsonRequest(t, http.MethodGet, uri, regToken+"x", nil), http.StatusUnauthorized, "invalid_token")
		wantRegistrationError(t, jsonRequest(t, http.MethodGet, uri, "", nil), http.StatusUnauthorized, "invalid_token")
		// Another client's token does not open this one.
		other := ts.register(t, "", public("https://other.mcp.example/cb"))
		wantRegistrationError(t, jsonRequest(t, http.MethodGet, uri, other.str("registration_access_token"), nil), http.StatusUnauthorized, "invalid_token")
	})
	t.Run("update", func(t *testing.T) {
		next := map[string]any{"client_id": id, "client_name": "Backend v2", "grant_types": []string{"client_credentials"}, "scope": "openid profile"}
		wantRegistrationError(t, jsonRequest(t, http.MethodPut, uri, "wrong", next), http.StatusUnauthorized, "invalid_token")
		r := jsonRequest(t, http.MethodPut, uri, regToken, next)
		if r.Status != http.StatusOK || r.str("client_name") != "Backend v2" || r.str("scope") != "openid profile" {
			t.Fatalf("PUT: status %d\n%s", r.Status, r.Raw)
		}
		c, err := ts.Store.GetClient(ctxT(t), id)
		if err != nil || c.Name != "Backend v2" || !c.Registered {
			t.Fatalf("stored after PUT: %+v, %v", c, err)
		}
		bad := map[string]any{"client_id": "someone-else", "grant_types": []string{"client_credentials"}}
		wantRegistrationError(t, jsonRequest(t, http.MethodPut, uri, regToken, bad), http.StatusBadRequest, "invalid_client_metadata")
		// The secret still works: PUT never changes it.
		if r := ts.token(t, url.Values{"grant_type": {"client_credentials"}}, clientAuth{ID: id, Secret: secret}); r.Status != http.StatusOK {
			t.Errorf("client_credentials after PUT: status %d", r.Status)
		}
	})
	t.Run("delete", func(t *testing.T) {
		wantRegistrationError(t, jsonRequest(t, http.MethodDelete, uri, "wrong", nil), http.StatusUnauthorized, "invalid_token")
		req, _ := http.NewRequestWithContext(ctxT(t), http.MethodDelete, uri, nil)
		req.Header.Set("Authorization", "Bearer "+regToken)
		resp, err := httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		closeBody(resp)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: status %d, want 204", resp.StatusCode)
		}
		if _, err := ts.Store.GetClient(ctxT(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after DELETE: GetClient = %v, want ErrNotFound", err)
		}
		wantRegistrationError(t, jsonRequest(t, http.MethodGet, uri, regToken, nil), http.StatusUnauthorized, "invalid_token")
		if r := ts.token(t, url.Values{"grant_type": {"client_credentials"}}, clientAuth{ID: id, Secret: secret}); r.Status != http.StatusUnauthorized {
			t.Errorf("client_credentials after DELETE: status %d, want 401", r.Status)
		}
	})
}

// With registration off (the default) there is no endpoint, and discovery
// does not pretend there is.
func TestClientRegistrationDisabled(t *testing.T) {
	ts := startServer(t, nil)
	r := jsonRequest(t, http.MethodPost, ts.endpoint("/oauth2/register"), "", map[string]any{
		"token_endpoint_auth_method": "none", "redirect_uris": []string{"https://mcp.example/cb"}})
	if r.Status != http.StatusNotFound {
		t.Errorf("POST /oauth2/register: status %d, want 404", r.Status)
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		d := getJSON(t, ts.endpoint(path))
		if _, ok := d.JSON["registration_endpoint"]; ok {
			t.Errorf("%s lists registration_endpoint with registration off", path)
		}
	}
	// The protected resource metadata is there regardless.
	if prm := getJSON(t, ts.endpoint("/.well-known/oauth-protected-resource")); prm.Status != http.StatusOK {
		t.Errorf("protected resource metadata: status %d", prm.Status)
	}
}

// resource (RFC 8707): only the API or the client's own audiences, as
// absolute URIs; the token's aud is what was asked for, in JWTs too, and
// the API refuses a token for another audience while today's tokens (aud =
// the issuer) keep working.
func TestResourceIndicators(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.AccessTokenFormat = "jwt" })
	api := ts.URL + "/api/v1"
	other := "https://reports.example/api"
	svc := ts.createConfidentialClient(t, func(c *store.Client) {
		c.GrantTypes = []string{"client_credentials"}
		c.ResponseTypes = []string{}
		c.RedirectURIs = []string{}
		c.Scopes = []string{"gatehouse:api"}
		c.Audience = []string{other}
		c.Roles = []string{"admin"}
	})
	cc := func(resources ...string) oauthResponse {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"gatehouse:api"}}
		if len(resources) > 0 {
			form["resource"] = resources
		}
		r := ts.token(t, form, authOf(svc))
		ts.secret(r.str("access_token"))
		return r
	}
	callAPI := func(token string) oauthResponse {
		return jsonRequest(t, http.MethodGet, api+"/users?limit=1", token, nil)
	}

	for name, resource := range map[string]string{
		"unknown":  "https://evil.example/",
		"relative": "/api/v1",
		"fragment": api + "#x",
	} {
		t.Run("invalid_target "+name, func(t *testing.T) {
			wantOAuthError(t, cc(resource), http.StatusBadRequest, "invalid_target")
		})
	}

	tok := cc(api)
	if tok.Status != http.StatusOK {
		t.Fatalf("token for the API: %d\n%s", tok.Status, tok.Raw)
	}
	if aud := strList(decodeJWTPart(t, tok.str("access_token"), 1)["aud"]); len(aud) != 1 || aud[0] != api {
		t.Errorf("JWT aud = %v, want [%s]", aud, api)
	}
	if r := callAPI(tok.str("access_token")); r.Status != http.StatusOK {
		t.Errorf("API with a token for it: status %d\n%s", r.Status, r.Raw)
	}

	// Another resource's token is refused by the API.
	tok = cc(other)
	if aud := strList(decodeJWTPart(t, tok.str("access_token"), 1)["aud"]); len(aud) != 1 || aud[0] != other {
		t.Errorf("JWT aud = %v, want [%s]", aud, other)
	}
	r := callAPI(tok.str("access_token"))
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("API with a token for %s: status %d, WWW-Authenticate %q; want 401 invalid_token", other, r.Status, r.Header.Get("WWW-Authenticate"))
	}
	if in := ts.introspect(t, tok.str("access_token"), authOf(ts.createConfidentialClient(t, nil))); !contains(strList(in.JSON["aud"]), other) {
		t.Errorf("introspection aud = %v, want %s", in.JSON["aud"], other)
	}

	// No resource: aud is the issuer, as before, and the API takes it.
	tok = cc()
	if aud := strList(decodeJWTPart(t, tok.str("access_token"), 1)["aud"]); len(aud) != 1 || aud[0] != ts.URL {
		t.Errorf("default JWT aud = %v, want [%s]", aud, ts.URL)
	}
	if r := callAPI(tok.str("access_token")); r.Status != http.StatusOK {
		t.Errorf("API with a default token: status %d", r.Status)
	}

	// At the authorization endpoint and PAR, the same rule.
	spa := ts.createPublicClient(t, nil)
	rp := ts.newRP(t, spa, "openid")
	ar := rp.newAuthRequest(t, false, oauth2.SetAuthURLParam("resource", "https://evil.example/"))
	resp := get(t, httpClient(), ar.URL)
	closeBody(resp)
	if loc := location(t, resp); loc.Query().Get("error") != "invalid_target" {
		t.Errorf("authorize with a foreign resource: redirected to %s, want error=invalid_target", loc.Redacted())
	}
	par := ts.post(t, "/oauth2/par", url.Values{"response_type": {"code"}, "redirect_uri": {spa.RedirectURIs[0]},
		"scope": {"openid"}, "state": {"s-" + randomHex(t, 8)}, "code_challenge": {strings.Repeat("a", 43)},
		"code_challenge_method": {"S256"}, "resource": {"https://evil.example/"}}, authOf(spa))
	wantOAuthError(t, par, http.StatusBadRequest, "invalid_target")
}

// The janitor deletes a registered client unused for the TTL, and keeps a
// used one and one an operator made.
func TestJanitorDeletesUnusedRegisteredClients(t *testing.T) {
	ts := startServer(t, withRegistration(nil))
	meta := map[string]any{"grant_types": []string{"client_credentials"}, "scope": "openid"}
	unused := ts.register(t, initialAccessToken, meta)
	used := ts.register(t, initialAccessToken, meta)
	if unused.Status != http.StatusCreated || used.Status != http.StatusCreated {
		t.Fatalf("register: %d, %d", unused.Status, used.Status)
	}
	if r := ts.token(t, url.Values{"grant_type": {"client_credentials"}}, clientAuth{ID: used.str("client_id"), Secret: used.str("client_secret")}); r.Status != http.StatusOK {
		t.Fatalf("token: %d\n%s", r.Status, r.Raw)
	} else {
		ts.secret(r.str("access_token"))
	}
	c, err := ts.Store.GetClient(ctxT(t), used.str("client_id"))
	if err != nil || c.LastUsedAt == nil {
		t.Fatalf("used client's LastUsedAt = %v (%v), want set by its token", c.LastUsedAt, err)
	}
	operator := ts.createConfidentialClient(t, nil)

	// Forty days on, the used client having been used the day before.
	now := time.Now().Add(40 * 24 * time.Hour)
	day := now.Add(-24 * time.Hour)
	c.LastUsedAt = &day
	if err := ts.Store.UpdateClient(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	res, err := janitor.New(ts.Store, janitor.Options{Now: func() time.Time { return now },
		UnusedClientTTL: ts.Config.ClientRegistration.UnusedClientTTL}).RunOnce(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.RegisteredClients < 1 {
		t.Errorf("RegisteredClients = %d, want at least 1", res.RegisteredClients)
	}
	if _, err := ts.Store.GetClient(ctxT(t), unused.str("client_id")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unused registered client: %v, want ErrNotFound", err)
	}
	for _, id := range []string{used.str("client_id"), operator.ID} {
		if _, err := ts.Store.GetClient(ctxT(t), id); err != nil {
			t.Errorf("client %s: %v, want kept", id, err)
		}
	}
}

// Under an issuer with a path, the metadata is at the issuer and at RFC
// 9728 §3.1's address on the host's root, and registration lives under the
// issuer's path.
func TestRegistrationUnderIssuerPath(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.Issuer += "/auth"
		withRegistration(nil)(c)
	})
	iss, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	origin := iss.Scheme + "://" + iss.Host
	api := ts.URL + "/api/v1"
	r := jsonRequest(t, http.MethodGet, api+"/users/me", "", nil)
	m := resourceMetadataParam.FindStringSubmatch(r.Header.Get("WWW-Authenticate"))
	if r.Status != http.StatusUnauthorized || m == nil || m[1] != ts.URL+"/.well-known/oauth-protected-resource" {
		t.Fatalf("challenge: status %d WWW-Authenticate %q", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	for _, addr := range []string{m[1], origin + "/.well-known/oauth-protected-resource/auth/api/v1"} {
		prm := getJSON(t, addr)
		if prm.Status != http.StatusOK || prm.str("resource") != api || !contains(strList(prm.JSON["authorization_servers"]), ts.URL) {
			t.Errorf("%s: status %d\n%s", addr, prm.Status, prm.Raw)
		}
	}
	as := getJSON(t, origin+"/.well-known/oauth-authorization-server/auth")
	if as.str("registration_endpoint") != ts.URL+"/oauth2/register" {
		t.Fatalf("registration_endpoint = %q", as.str("registration_endpoint"))
	}
	reg := ts.register(t, "", map[string]any{"token_endpoint_auth_method": "none", "redirect_uris": []string{"https://mcp.example/cb"}})
	if reg.Status != http.StatusCreated || !strings.HasPrefix(reg.str("registration_client_uri"), ts.URL+"/oauth2/register/") {
		t.Fatalf("register: status %d\n%s", reg.Status, reg.Raw)
	}
	if got := jsonRequest(t, http.MethodGet, reg.str("registration_client_uri"), reg.str("registration_access_token"), nil); got.Status != http.StatusOK {
		t.Errorf("GET registration_client_uri: status %d", got.Status)
	}
}

// A resource pushed with the request (RFC 9126) is the token's audience.
func TestResourceThroughPAR(t *testing.T) {
	ts := startServer(t, nil)
	user := ts.createUser(t, "user")
	client := ts.createConfidentialClient(t, nil)
	rp := ts.newRP(t, client, "openid")
	api := ts.URL + "/api/v1"
	ar := authRequest{State: "st-" + randomHex(t, 8), Nonce: "n-" + randomHex(t, 8), Verifier: oauth2.GenerateVerifier()}
	r := ts.post(t, "/oauth2/par", url.Values{
		"response_type": {"code"}, "client_id": {client.ID}, "redirect_uri": {client.RedirectURIs[0]},
		"scope": {"openid"}, "state": {ar.State}, "nonce": {ar.Nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(ar.Verifier)}, "code_challenge_method": {"S256"},
		"resource": {api},
	}, authOf(client))
	if r.Status != http.StatusCreated {
		t.Fatalf("PAR: status %d\n%s", r.Status, r.Raw)
	}
	ar.URL = ts.endpoint("/oauth2/auth?" + url.Values{"client_id": {client.ID}, "request_uri": {r.str("request_uri")}}.Encode())
	code, _ := rp.code(t, ts.newBrowser(t), ar, &user)
	tok := rp.exchange(t, code, ar)
	if in := ts.introspect(t, tok.AccessToken, authOf(client)); !contains(strList(in.JSON["aud"]), api) {
		t.Errorf("aud = %v, want %s", in.JSON["aud"], api)
	}
}

// Open registration stops at max_open_clients registered clients; the
// initial access token still admits.
func TestOpenRegistrationBound(t *testing.T) {
	// The package's servers share one database: count what is there.
	have, err := startServer(t, nil).Store.CountRegisteredClients(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, withRegistration(func(r *config.ClientRegistration) { r.MaxOpenClients = have + 2 }))
	meta := map[string]any{"token_endpoint_auth_method": "none", "redirect_uris": []string{"https://mcp.example/cb"}}
	for i := range 2 {
		if r := ts.register(t, "", meta); r.Status != http.StatusCreated {
			t.Fatalf("registration %d: status %d\n%s", i, r.Status, r.Raw)
		}
	}
	wantRegistrationError(t, ts.register(t, "", meta), http.StatusForbidden, "access_denied")
	if r := ts.register(t, initialAccessToken, meta); r.Status != http.StatusCreated {
		t.Errorf("with the initial access token past the bound: status %d", r.Status)
	}
}

// With open_public off, every registration needs the initial access token.
func TestClosedClientRegistration(t *testing.T) {
	ts := startServer(t, withRegistration(func(r *config.ClientRegistration) { r.OpenPublic = false }))
	meta := map[string]any{"token_endpoint_auth_method": "none", "redirect_uris": []string{"https://mcp.example/cb"}}
	wantRegistrationError(t, ts.register(t, "", meta), http.StatusUnauthorized, "invalid_token")
	if r := ts.register(t, initialAccessToken, meta); r.Status != http.StatusCreated || r.str("client_secret") != "" {
		t.Errorf("public registration with the initial access token: status %d\n%s", r.Status, r.Raw)
	}
}
