package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
)

// TestConsoleClientIsGuarded: the server registered the console's client
// at start, and the resource API refuses to make it third-party or
// confidential; a harmless change (its name) is allowed.
func TestConsoleClientIsGuarded(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c, err := ts.Store.GetClient(ctxT(t), domain.ConsoleClientID)
	if err != nil {
		t.Fatalf("the console's client was not registered at start: %v", err)
	}
	if !c.Public || !c.FirstParty || !contains(c.RedirectURIs, ts.URL+"/console/callback") || !contains(c.PostLogoutRedirectURIs, ts.URL+"/console/") {
		t.Fatalf("console client: %+v", c)
	}
	token := apiTokenFor(t, ts, ts.createUser(t, "admin"))
	path := "/api/v1/clients/" + domain.ConsoleClientID
	for _, tc := range []struct {
		body   map[string]any
		status int
		field  string
	}{
		{map[string]any{"first_party": false}, http.StatusUnprocessableEntity, "first_party"},
		{map[string]any{"public": false}, http.StatusUnprocessableEntity, "public"},
		{map[string]any{"token_endpoint_auth_method": "client_secret_basic"}, http.StatusUnprocessableEntity, "token_endpoint_auth_method"},
	} {
		r := apiCall(t, ts, http.MethodPatch, path, token, tc.body)
		if r.Status != tc.status || !strings.Contains(r.Raw, `"field":"`+tc.field+`"`) {
			t.Errorf("PATCH %v: %d %s, want %d naming %s", tc.body, r.Status, r.Raw, tc.status, tc.field)
		}
	}
	if r := apiCall(t, ts, http.MethodPatch, path, token, map[string]any{"client_name": "Console"}); r.Status != http.StatusOK {
		t.Errorf("renaming the console's client: %d %s", r.Status, r.Raw)
	}
	c, err = ts.Store.GetClient(ctxT(t), domain.ConsoleClientID)
	if err != nil || !c.Public || !c.FirstParty {
		t.Errorf("after the refused patches: %+v (%v)", c, err)
	}
}
