package admin_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestIdentityProvidersAPI: create, list, get, patch and delete an upstream
// provider; the client secret goes in and never comes out (not in a
// response, the audit log, the server log, or the store in the clear).
func TestIdentityProvidersAPI(t *testing.T) {
	for _, backend := range []struct {
		name string
		env  func(*testing.T) *env
	}{{"memory", newMemoryEnv}, {"postgres", newPostgresEnv}} {
		t.Run(backend.name, func(t *testing.T) { testIdentityProvidersAPI(t, backend.env(t)) })
	}
}

func testIdentityProvidersAPI(t *testing.T, e *env) {
	admin := e.createUser(t, "admin")
	tok := e.signIn(t, admin)
	secret := "upstream-secret-" + randomHex(t, 12)
	e.logs.Secret(secret)

	r := e.do(t, http.MethodPost, "/identity-providers", tok, map[string]any{
		"id": "corp", "display_name": "Corp SSO", "issuer": "https://sso.corp.example",
		"client_id": "gatehouse", "client_secret": secret, "scopes": []string{"email", "profile", "openid"},
		"claims": map[string]any{"username": "nickname"}, "link_by_verified_email": true,
		"new_user_roles": []string{"viewer"},
	})
	want(t, r, http.StatusCreated, "POST /identity-providers")
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "/api/v1/identity-providers/corp") {
		t.Errorf("Location = %q", loc)
	}
	noSecret := func(what string, raw []byte) {
		t.Helper()
		if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(`"client_secret"`)) {
			t.Errorf("%s shows the client secret: %s", what, raw)
		}
	}
	noSecret("POST", r.Raw)
	if r.JSON["client_secret_set"] != true || r.str("new_user_status") != "pending" || r.JSON["enabled"] != true {
		t.Errorf("created provider: %s", r.Raw)
	}
	if got := r.str("callback_url"); got != e.URL+"/login/upstream/corp/callback" {
		t.Errorf("callback_url = %q", got)
	}
	claims, _ := r.JSON["claims"].(map[string]any)
	if claims["username"] != "nickname" || claims["email"] != "email" || claims["name"] != "name" {
		t.Errorf("claims = %v, want nickname and the defaults", claims)
	}
	if scopes, _ := r.JSON["scopes"].([]any); len(scopes) != 2 {
		t.Errorf("scopes = %v, want email and profile (openid is implied)", r.JSON["scopes"])
	}

	stored, err := e.Store.GetIdentityProvider(ctxT(t), "corp")
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	if len(stored.ClientSecretEnc) == 0 || bytes.Contains(stored.ClientSecretEnc, []byte(secret)) {
		t.Errorf("stored secret is %d bytes and holds the clear text: %v", len(stored.ClientSecretEnc), bytes.Contains(stored.ClientSecretEnc, []byte(secret)))
	}

	r = e.do(t, http.MethodGet, "/identity-providers/corp", tok, nil)
	want(t, r, http.StatusOK, "GET")
	noSecret("GET", r.Raw)
	r = e.do(t, http.MethodGet, "/identity-providers", tok, nil)
	want(t, r, http.StatusOK, "list")
	noSecret("list", r.Raw)
	if !strings.Contains(string(r.Raw), `"id":"corp"`) {
		t.Errorf("list lacks corp: %s", r.Raw)
	}

	want(t, e.do(t, http.MethodPost, "/identity-providers", tok, map[string]any{
		"id": "corp", "display_name": "Again", "issuer": "https://sso.corp.example", "client_id": "x"}),
		http.StatusConflict, "POST with a taken id")

	// A rotated secret, a claim patched on its own, a status.
	rotated := "rotated-" + randomHex(t, 12)
	e.logs.Secret(rotated)
	r = e.do(t, http.MethodPatch, "/identity-providers/corp", tok, map[string]any{
		"display_name": "Corp", "client_secret": rotated, "claims": map[string]any{"name": "given_name"},
		"new_user_status": "active", "enabled": false})
	want(t, r, http.StatusOK, "PATCH")
	noSecret("PATCH", r.Raw)
	if bytes.Contains(r.Raw, []byte(rotated)) {
		t.Errorf("PATCH shows the new secret: %s", r.Raw)
	}
	claims, _ = r.JSON["claims"].(map[string]any)
	if r.str("display_name") != "Corp" || r.JSON["enabled"] != false || r.str("new_user_status") != "active" ||
		claims["name"] != "given_name" || claims["username"] != "nickname" {
		t.Errorf("patched provider: %s", r.Raw)
	}
	after, err := e.Store.GetIdentityProvider(ctxT(t), "corp")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(after.ClientSecretEnc, stored.ClientSecretEnc) {
		t.Error("the rotated secret was not stored")
	}
	r = e.do(t, http.MethodPatch, "/identity-providers/corp", tok, map[string]any{"id": "other"})
	wantField(t, r, "id")
	r = e.do(t, http.MethodPatch, "/identity-providers/corp", tok, map[string]any{"issuer": "ftp://x"})
	wantField(t, r, "issuer")

	// The audit log records the changes, never the secret.
	r = e.do(t, http.MethodGet, "/audit?target=corp", tok, nil)
	want(t, r, http.StatusOK, "audit")
	for _, action := range []string{"identity_provider.create", "identity_provider.update"} {
		if !strings.Contains(string(r.Raw), action) {
			t.Errorf("audit lacks %s: %s", action, r.Raw)
		}
	}
	if bytes.Contains(r.Raw, []byte(secret)) || bytes.Contains(r.Raw, []byte(rotated)) {
		t.Errorf("the audit log holds a client secret: %s", r.Raw)
	}

	want(t, e.do(t, http.MethodDelete, "/identity-providers/corp", tok, nil), http.StatusNoContent, "DELETE")
	want(t, e.do(t, http.MethodGet, "/identity-providers/corp", tok, nil), http.StatusNotFound, "GET after DELETE")
	want(t, e.do(t, http.MethodDelete, "/identity-providers/corp", tok, nil), http.StatusNotFound, "DELETE twice")
	want(t, e.do(t, http.MethodGet, "/identity-providers/NOPE", tok, nil), http.StatusNotFound, "GET of a malformed id")
}

// TestIdentityProviderValidation: every bad field is named.
func TestIdentityProviderValidation(t *testing.T) {
	e := newMemoryEnv(t)
	tok := e.signIn(t, e.createUser(t, "admin"))
	good := func() map[string]any {
		return map[string]any{"id": "p-" + randomHex(t, 4), "display_name": "Upstream",
			"issuer": "https://idp.example", "client_id": "gatehouse"}
	}
	for _, c := range []struct {
		name, field string
		set         func(map[string]any)
	}{
		{"bad issuer URL", "issuer", func(m map[string]any) { m["issuer"] = "not a url" }},
		{"plain http issuer", "issuer", func(m map[string]any) { m["issuer"] = "http://idp.example" }},
		{"issuer with a query", "issuer", func(m map[string]any) { m["issuer"] = "https://idp.example/?a=b" }},
		{"missing client id", "client_id", func(m map[string]any) { delete(m, "client_id") }},
		{"missing display name", "display_name", func(m map[string]any) { m["display_name"] = " " }},
		{"bad id", "id", func(m map[string]any) { m["id"] = "Has Spaces" }},
		{"missing id", "id", func(m map[string]any) { delete(m, "id") }},
		{"locked new users", "new_user_status", func(m map[string]any) { m["new_user_status"] = "locked" }},
		{"unknown role", "new_user_roles", func(m map[string]any) { m["new_user_roles"] = []string{"no-such-role"} }},
		{"bad claim name", "claims.email", func(m map[string]any) { m["claims"] = map[string]any{"email": "a b"} }},
		{"bad scope", "scopes", func(m map[string]any) { m["scopes"] = []string{"ok", "bad\"quote"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := good()
			c.set(body)
			wantField(t, e.do(t, http.MethodPost, "/identity-providers", tok, body), c.field)
		})
	}
	// Loopback http is accepted (development, tests).
	body := good()
	body["issuer"] = "http://127.0.0.1:9999"
	want(t, e.do(t, http.MethodPost, "/identity-providers", tok, body), http.StatusCreated, "loopback issuer")
	// An unknown member is a 400 naming it.
	body = good()
	body["client_secret_set"] = true
	r := e.do(t, http.MethodPost, "/identity-providers", tok, body)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Raw), "client_secret_set") {
		t.Errorf("unknown member: %d %s", r.Status, r.Raw)
	}
}

// wantField fails unless r is a validation problem naming field.
func wantField(t *testing.T, r apiResponse, field string) {
	t.Helper()
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422 naming %s; body %s", r.Status, field, r.Raw)
	}
	errs, _ := r.JSON["errors"].([]any)
	for _, e := range errs {
		if m, _ := e.(map[string]any); m["field"] == field {
			return
		}
	}
	t.Errorf("errors %v do not name %s", errs, field)
}
