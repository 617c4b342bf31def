package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/dpoptest"
)

// TestClientDPoPBoundAccessTokens: dpop_bound_access_tokens is set on
// create, shown, changed by PATCH, stored, and must be a boolean.
func TestClientDPoPBoundAccessTokens(t *testing.T) {
	e := newMemoryEnv(t)
	tok := e.signIn(t, e.createUser(t, "admin"))

	r := e.do(t, http.MethodPost, "/clients", tok, map[string]any{
		"client_id": "bound", "grant_types": []string{"client_credentials"}, "scope": "api:read",
		"dpop_bound_access_tokens": true,
	})
	want(t, r, http.StatusCreated, "create bound client")
	if r.JSON["dpop_bound_access_tokens"] != true {
		t.Fatalf("created client %s, want dpop_bound_access_tokens true", r.Raw)
	}
	stored, err := e.Store.GetClient(ctxT(t), "bound")
	if err != nil || !stored.DPoPBoundAccessTokens {
		t.Fatalf("stored %+v (err %v), want DPoPBoundAccessTokens", stored.DPoPBoundAccessTokens, err)
	}

	r = e.do(t, http.MethodPatch, "/clients/bound", tok, map[string]any{"dpop_bound_access_tokens": "yes"})
	want(t, r, http.StatusBadRequest, "patch with a string")
	if errs, _ := r.JSON["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "dpop_bound_access_tokens" {
		t.Fatalf("patch with a string: %s, want an error naming dpop_bound_access_tokens", r.Raw)
	}

	r = e.do(t, http.MethodPatch, "/clients/bound", tok, map[string]any{"dpop_bound_access_tokens": false})
	want(t, r, http.StatusOK, "patch to false")
	if r.JSON["dpop_bound_access_tokens"] != false {
		t.Fatalf("patched client %s, want dpop_bound_access_tokens false", r.Raw)
	}
	if stored, err = e.Store.GetClient(ctxT(t), "bound"); err != nil || stored.DPoPBoundAccessTokens {
		t.Fatalf("stored after patch %v (err %v), want false", stored.DPoPBoundAccessTokens, err)
	}

	r = e.do(t, http.MethodPost, "/clients", tok, map[string]any{
		"client_id": "typed", "grant_types": []string{"client_credentials"}, "dpop_bound_access_tokens": 1,
	})
	want(t, r, http.StatusBadRequest, "create with a number")
}

// TestAPITokenNotDPoP: API tokens are bearer tokens; presented with the
// DPoP scheme, even with a proof, they are refused with a DPoP challenge.
func TestAPITokenNotDPoP(t *testing.T) {
	e := newMemoryEnv(t)
	tok := e.signIn(t, e.createUser(t, "admin"))
	r := e.do(t, http.MethodPost, "/tokens", tok, map[string]any{"name": "script", "scopes": []string{"users:read"}, "expires_in": 3600})
	want(t, r, http.StatusCreated, "POST /tokens")
	secret := r.str("token")
	if secret == "" {
		t.Fatalf("no token in %s", r.Raw)
	}
	e.logs.Secret(secret)
	want(t, e.do(t, http.MethodGet, "/users", secret, nil), http.StatusOK, "API token as Bearer")

	key := dpoptest.MustES256()
	res := e.call(ctxT(t), apiRequest{Method: http.MethodGet, Path: "/users", Header: http.Header{
		"Authorization": {"DPoP " + secret}, "Dpop": {key.Proof(http.MethodGet, e.URL+"/api/v1/users", secret)},
	}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if h := res.Header.Get("WWW-Authenticate"); res.Status != http.StatusUnauthorized || !strings.HasPrefix(h, `DPoP error="invalid_token"`) || !strings.Contains(h, "algs=") {
		t.Fatalf("API token with the DPoP scheme: %d %q %s", res.Status, h, res.Raw)
	}
}
