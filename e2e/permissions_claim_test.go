package e2e

import (
	"net/http"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/store"
)

// TestPermissionsClaim: a custom permission attached to a role reaches the
// relying party in the permissions claim, in the ID token and at userinfo,
// under the permissions scope only; a denied permission leaves the claim
// at the next sign-in, whatever the role grants.
func TestPermissionsClaim(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	adminUser := ts.createUser(t, "admin")
	admin := apiTokenFor(t, ts, adminUser)

	perm := "rep" + randomHex(t, 4) + ":export"
	if r := apiCall(t, ts, http.MethodPost, "/api/v1/permissions", admin, map[string]any{"name": perm, "description": "Export reports"}); r.Status != http.StatusCreated {
		t.Fatalf("create permission: %d %s", r.Status, r.Raw)
	}
	role := "reporter-" + randomHex(t, 4)
	if r := apiCall(t, ts, http.MethodPost, "/api/v1/roles", admin, map[string]any{"name": role, "parent": "viewer", "permissions": []string{perm}}); r.Status != http.StatusCreated {
		t.Fatalf("create role: %d %s", r.Status, r.Raw)
	}
	user := ts.createUser(t, role)
	// The admin does not hold the custom permission, and needs not to:
	// custom permissions confer no power over gatehouse, so the admin may
	// deny it below.
	client := ts.createConfidentialClient(t, func(c *store.Client) { c.Scopes = append(c.Scopes, "permissions") })

	claimOf := func(idt *oidc.IDToken) []string {
		t.Helper()
		var c struct {
			Permissions []string `json:"permissions"`
		}
		if err := idt.Claims(&c); err != nil {
			t.Fatalf("ID token claims: %v", err)
		}
		return c.Permissions
	}
	userinfoHas := func(token string) bool {
		t.Helper()
		r := ts.userinfo(t, token)
		list, _ := r.JSON["permissions"].([]any)
		return slices.Contains(list, any(perm))
	}

	tok, idt, _ := ts.newRP(t, client, oidc.ScopeOpenID, "permissions").signIn(t, user)
	if got := claimOf(idt); !slices.Contains(got, perm) {
		t.Errorf("ID token permissions %v, want %s among them", got, perm)
	}
	if !userinfoHas(tok.AccessToken) {
		t.Errorf("userinfo has no %s in permissions", perm)
	}

	// Without the scope, no claim at all.
	tok, idt, _ = ts.newRP(t, client, oidc.ScopeOpenID).signIn(t, user)
	if got := claimOf(idt); got != nil {
		t.Errorf("ID token without the permissions scope carries permissions %v", got)
	}
	if r := ts.userinfo(t, tok.AccessToken); r.JSON["permissions"] != nil {
		t.Errorf("userinfo without the permissions scope: %s", r.Raw)
	}

	// Denied: the role still grants it, the claim no longer has it.
	if r := apiCall(t, ts, http.MethodPut, "/api/v1/users/"+user.ID+"/denied-permissions", admin, map[string]any{"permissions": []string{perm}}); r.Status != http.StatusOK {
		t.Fatalf("deny: %d %s", r.Status, r.Raw)
	}
	tok, idt, _ = ts.newRP(t, client, oidc.ScopeOpenID, "permissions").signIn(t, user)
	if got := claimOf(idt); slices.Contains(got, perm) {
		t.Errorf("ID token permissions %v after the permission was denied", got)
	}
	if userinfoHas(tok.AccessToken) {
		t.Errorf("userinfo lists %s after it was denied", perm)
	}
}
