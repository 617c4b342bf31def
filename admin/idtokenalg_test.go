package admin_test

import (
	"net/http"
	"testing"
)

// TestClientIDTokenAlg: id_token_signed_response_alg is set on create,
// shown on get, changed and cleared by PATCH, and stored.
func TestClientIDTokenAlg(t *testing.T) {
	e := newMemoryEnv(t)
	tok := e.signIn(t, e.createUser(t, "admin"))

	r := e.do(t, http.MethodPost, "/clients", tok, map[string]any{
		"client_id": "fast", "redirect_uris": []string{"https://app.example/cb"},
		"id_token_signed_response_alg": "ES256",
	})
	want(t, r, http.StatusCreated, "create ES256 client")
	if got := r.str("id_token_signed_response_alg"); got != "ES256" {
		t.Fatalf("created client alg %q, want ES256; body %s", got, r.Raw)
	}
	stored, err := e.Store.GetClient(ctxT(t), "fast")
	if err != nil {
		t.Fatal(err)
	}
	if stored.IDTokenSignedResponseAlg != "ES256" {
		t.Fatalf("stored alg %q, want ES256", stored.IDTokenSignedResponseAlg)
	}

	r = e.do(t, http.MethodGet, "/clients/fast", tok, nil)
	want(t, r, http.StatusOK, "get")
	if got := r.str("id_token_signed_response_alg"); got != "ES256" {
		t.Fatalf("get shows alg %q, want ES256", got)
	}

	r = e.do(t, http.MethodPatch, "/clients/fast", tok, map[string]any{"id_token_signed_response_alg": "RS256"})
	want(t, r, http.StatusOK, "patch to RS256")
	if got := r.str("id_token_signed_response_alg"); got != "RS256" {
		t.Fatalf("patched alg %q, want RS256", got)
	}

	// null returns the client to the default, which the view omits.
	r = e.do(t, http.MethodPatch, "/clients/fast", tok, map[string]any{"id_token_signed_response_alg": nil})
	want(t, r, http.StatusOK, "patch to null")
	if _, present := r.JSON["id_token_signed_response_alg"]; present {
		t.Fatalf("default alg shown: %s", r.Raw)
	}
	if stored, err = e.Store.GetClient(ctxT(t), "fast"); err != nil || stored.IDTokenSignedResponseAlg != "" {
		t.Fatalf("stored alg after clearing %q (err %v), want \"\"", stored.IDTokenSignedResponseAlg, err)
	}

	// A client that says nothing gets the default.
	r = e.do(t, http.MethodPost, "/clients", tok, map[string]any{
		"client_id": "plain", "redirect_uris": []string{"https://app.example/cb"},
	})
	want(t, r, http.StatusCreated, "create default client")
	if _, present := r.JSON["id_token_signed_response_alg"]; present {
		t.Fatalf("default client shows an alg: %s", r.Raw)
	}
}
