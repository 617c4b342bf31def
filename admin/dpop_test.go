package admin_test

import (
	"net/http"
	"testing"
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
