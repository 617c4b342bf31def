package e2e

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/store"
)

// permissionsClaim reads a permissions claim out of decoded JSON: nil when
// it is absent, the names otherwise.
func permissionsClaim(t *testing.T, m map[string]any) []string {
	t.Helper()
	v, ok := m["permissions"]
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("permissions claim %v is not a list", v)
	}
	out := []string{}
	for _, p := range list {
		out = append(out, p.(string))
	}
	return out
}

// customRole defines a custom permission and a role below viewer that
// carries it, through the API as admin; it returns both names.
func customRole(t *testing.T, ts *testServer, admin string) (perm, role string) {
	t.Helper()
	perm = "mdl" + randomHex(t, 4) + ":use"
	if r := apiCall(t, ts, http.MethodPost, "/api/v1/permissions", admin, map[string]any{"name": perm}); r.Status != http.StatusCreated {
		t.Fatalf("create permission: %d %s", r.Status, r.Raw)
	}
	role = "modeler-" + randomHex(t, 4)
	if r := apiCall(t, ts, http.MethodPost, "/api/v1/roles", admin, map[string]any{"name": role, "parent": "viewer", "permissions": []string{perm}}); r.Status != http.StatusCreated {
		t.Fatalf("create role: %d %s", r.Status, r.Raw)
	}
	return perm, role
}

// TestPermissionsInAccessTokensAndIntrospection: under the permissions
// scope a JWT access token (RFC 9068) carries the effective permissions,
// custom and built-in, and introspection (RFC 7662) answers them for JWT
// and opaque tokens alike; without the scope neither has the member.
func TestPermissionsInAccessTokensAndIntrospection(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	admin := apiTokenFor(t, ts, ts.createUser(t, "admin"))
	perm, role := customRole(t, ts, admin)
	user := ts.createUser(t, role)
	withScope := func(c *store.Client) { c.Scopes = append(c.Scopes, "permissions") }
	jwtClient := ts.createConfidentialClient(t, func(c *store.Client) { withScope(c); c.AccessTokenFormat = store.FormatJWT })
	opaqueClient := ts.createConfidentialClient(t, withScope)

	// The JWT access token.
	tok, _, _ := ts.newRP(t, jwtClient, oidc.ScopeOpenID, "permissions").signIn(t, user)
	if typ := decodeJWTPart(t, tok.AccessToken, 0)["typ"]; typ != "at+jwt" {
		t.Fatalf("access token typ %v, want at+jwt: the client asks for JWT access tokens", typ)
	}
	claims := decodeJWTPart(t, tok.AccessToken, 1)
	if got := permissionsClaim(t, claims); !slices.Contains(got, perm) || !slices.Contains(got, store.PermDashboardsRead) || slices.Contains(got, store.PermUsersRead) {
		t.Errorf("JWT access token permissions %v, want %s and %s (from viewer) and nothing the role lacks", got, perm, store.PermDashboardsRead)
	}
	if claims["sub"] != user.ID {
		t.Errorf("JWT access token sub %v, want %s", claims["sub"], user.ID)
	}
	in := ts.introspect(t, tok.AccessToken, authOf(jwtClient))
	if in.JSON["active"] != true || !slices.Contains(permissionsClaim(t, in.JSON), perm) {
		t.Errorf("introspection of the JWT access token %s, want it active with %s in permissions", in.Raw, perm)
	}

	// The opaque access token: introspection is where a resource server
	// reads them.
	tok, _, _ = ts.newRP(t, opaqueClient, oidc.ScopeOpenID, "permissions").signIn(t, user)
	in = ts.introspect(t, tok.AccessToken, authOf(opaqueClient))
	if got := permissionsClaim(t, in.JSON); in.JSON["active"] != true || !slices.Contains(got, perm) || !slices.Contains(got, store.PermDashboardsRead) {
		t.Errorf("introspection of the opaque access token %s, want it active with %s and %s", in.Raw, perm, store.PermDashboardsRead)
	}

	// Without the scope: no member at all, not an empty one.
	tok, _, _ = ts.newRP(t, jwtClient, oidc.ScopeOpenID).signIn(t, user)
	if _, ok := decodeJWTPart(t, tok.AccessToken, 1)["permissions"]; ok {
		t.Errorf("JWT access token without the permissions scope carries permissions")
	}
	if in := ts.introspect(t, tok.AccessToken, authOf(jwtClient)); in.JSON["active"] != true || in.JSON["permissions"] != nil {
		t.Errorf("introspection without the permissions scope: %s", in.Raw)
	}
	tok, _, _ = ts.newRP(t, opaqueClient, oidc.ScopeOpenID).signIn(t, user)
	if in := ts.introspect(t, tok.AccessToken, authOf(opaqueClient)); in.JSON["active"] != true || in.JSON["permissions"] != nil {
		t.Errorf("introspection of an opaque token without the permissions scope: %s", in.Raw)
	}
}

// TestExpiredGrantLeavesTheClaimsAtRefresh: a time-boxed grant's role and
// permissions are in the ID token, the JWT access token and introspection
// while it counts; the first refresh after its expiry carries neither,
// though the janitor has not removed the assignment (the expiry, not the
// deletion, is what counts). The e2e harness has no fake clock, so the
// grant is shortened to a few seconds ahead and the test polls the user
// view until the server says it no longer counts.
func TestExpiredGrantLeavesTheClaimsAtRefresh(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	admin := apiTokenFor(t, ts, ts.createUser(t, "admin"))
	perm, role := customRole(t, ts, admin)
	user := ts.createUser(t, "viewer")
	grant := func(until time.Time) {
		t.Helper()
		r := apiCall(t, ts, http.MethodPut, "/api/v1/users/"+user.ID+"/roles", admin, map[string]any{
			"roles": []string{"viewer"}, "role_grants": []map[string]any{{"role": role, "expires_at": until.UTC().Format(time.RFC3339Nano)}}})
		if r.Status != http.StatusOK {
			t.Fatalf("grant %s until %v: %d %s", role, until, r.Status, r.Raw)
		}
	}
	grant(time.Now().Add(time.Hour))
	client := ts.createConfidentialClient(t, func(c *store.Client) {
		c.Scopes = append(c.Scopes, "permissions")
		c.AccessTokenFormat = store.FormatJWT
	})
	rp := ts.newRP(t, client, oidc.ScopeOpenID, "roles", "permissions", oidc.ScopeOfflineAccess)
	tok, idt, _ := rp.signIn(t, user)
	var c struct {
		Roles       []string `json:"roles"`
		Permissions []string `json:"permissions"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(c.Roles, role) || !slices.Contains(c.Permissions, perm) {
		t.Fatalf("ID token while the grant counts: roles %v, permissions %v; want %s and %s", c.Roles, c.Permissions, role, perm)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}

	// Shorten the grant and wait, by polling the server's own view, until
	// it has run out.
	grant(time.Now().Add(3 * time.Second))
	deadline := time.Now().Add(time.Minute)
	for {
		r := apiCall(t, ts, http.MethodGet, "/api/v1/users/"+user.ID, admin, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("get user: %d %s", r.Status, r.Raw)
		}
		roles, _ := r.JSON["roles"].([]any)
		if !slices.Contains(roles, any(role)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the grant still counts a minute after its expiry: %s", r.Raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stored, err := ts.Store.GetUser(ctxT(t), user.ID)
	if err != nil || !slices.Contains(stored.Roles, role) {
		t.Fatalf("stored roles %v (%v): the assignment should still be there, only expired", stored.Roles, err)
	}

	r := ts.refresh(t, tok.RefreshToken, authOf(client))
	if r.Status != http.StatusOK {
		t.Fatalf("refresh after the expiry: %d %s", r.Status, r.Raw)
	}
	refreshed, err := rp.Verifier.Verify(ctxT(t), r.str("id_token"))
	if err != nil {
		t.Fatalf("verify the refreshed ID token: %v", err)
	}
	c.Roles, c.Permissions = nil, nil
	if err := refreshed.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(c.Roles, role) || slices.Contains(c.Permissions, perm) {
		t.Errorf("ID token after the expiry: roles %v, permissions %v; want neither %s nor %s", c.Roles, c.Permissions, role, perm)
	}
	if !slices.Contains(c.Roles, "viewer") || !slices.Contains(c.Permissions, store.PermDashboardsRead) {
		t.Errorf("ID token after the expiry: roles %v, permissions %v; want viewer's kept", c.Roles, c.Permissions)
	}
	access := r.str("access_token")
	if got := permissionsClaim(t, decodeJWTPart(t, access, 1)); slices.Contains(got, perm) || !slices.Contains(got, store.PermDashboardsRead) {
		t.Errorf("JWT access token after the expiry: permissions %v, want viewer's without %s", got, perm)
	}
	if in := ts.introspect(t, access, authOf(client)); in.JSON["active"] != true || slices.Contains(permissionsClaim(t, in.JSON), perm) {
		t.Errorf("introspection after the expiry: %s, want active without %s", in.Raw, perm)
	}
}
