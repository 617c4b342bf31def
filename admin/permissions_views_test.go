package admin_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoleGrantsInUserViewsMemory(t *testing.T)   { testRoleGrantsInUserViews(t, newMemoryEnv(t)) }
func TestRoleGrantsInUserViewsPostgres(t *testing.T) { testRoleGrantsInUserViews(t, newPostgresEnv(t)) }

// A time-boxed grant shows with its expiry in GET /users/{id} and in the
// list, and leaves both (roles and role_grants) once expired, before the
// janitor removes it.
func testRoleGrantsInUserViews(t *testing.T, e *env) {
	root := e.createUser(t, "admin")
	rootTok := e.signIn(t, root)
	u := e.createUser(t, "viewer")
	until := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	want(t, e.do(t, http.MethodPut, "/users/"+u.ID+"/roles", rootTok, map[string]any{
		"roles": []string{"viewer"}, "role_grants": []map[string]any{{"role": "manager", "expires_at": until}}}), http.StatusOK, "grant")

	type grant struct {
		Role      string     `json:"role"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	type view struct {
		ID         string   `json:"id"`
		Roles      []string `json:"roles"`
		RoleGrants []grant  `json:"role_grants"`
	}
	check := func(what string, v view, wantManager bool) {
		t.Helper()
		var manager, viewer *grant
		for i, g := range v.RoleGrants {
			switch g.Role {
			case "manager":
				manager = &v.RoleGrants[i]
			case "viewer":
				viewer = &v.RoleGrants[i]
			}
		}
		if viewer == nil || viewer.ExpiresAt != nil {
			t.Errorf("%s: role_grants %+v, want viewer for good", what, v.RoleGrants)
		}
		if wantManager != (manager != nil) || wantManager != slices.Contains(v.Roles, "manager") {
			t.Errorf("%s: roles %v, role_grants %+v; want manager %v", what, v.Roles, v.RoleGrants, wantManager)
		}
		if manager != nil && (manager.ExpiresAt == nil || !manager.ExpiresAt.Equal(until)) {
			t.Errorf("%s: manager until %v, want %v", what, manager.ExpiresAt, until)
		}
	}
	read := func(wantManager bool) {
		t.Helper()
		var one view
		r := e.do(t, http.MethodGet, "/users/"+u.ID, rootTok, nil)
		want(t, r, http.StatusOK, "get user")
		r.decode(t, &one)
		check("GET /users/{id}", one, wantManager)
		var list struct {
			Items []view `json:"items"`
		}
		r = e.do(t, http.MethodGet, "/users?q="+u.Username, rootTok, nil)
		want(t, r, http.StatusOK, "list users")
		r.decode(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != u.ID {
			t.Fatalf("list for %s: %s", u.Username, r.Raw)
		}
		check("GET /users", list.Items[0], wantManager)
	}
	read(true)

	// The instant passes (written in the store: the API refuses a past
	// expiry); the row stays until the janitor's batch.
	cur, err := e.Store.GetUser(ctxT(t), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.RoleExpiry = map[string]time.Time{"manager": time.Now().Add(-time.Second)}
	if err := e.Store.UpdateUser(ctxT(t), cur); err != nil {
		t.Fatal(err)
	}
	read(false)
}

func TestCustomPermissionPowerMemory(t *testing.T)   { testCustomPermissionPower(t, newMemoryEnv(t)) }
func TestCustomPermissionPowerPostgres(t *testing.T) { testCustomPermissionPower(t, newPostgresEnv(t)) }

// Through the API: an admin who lacks a custom permission denies it to its
// holder (custom permissions confer no power over gatehouse); a role
// manager who lacks it may not grant a role carrying it (403 naming it),
// one who holds it may.
func testCustomPermissionPower(t *testing.T, e *env) {
	root := e.createUser(t, "admin")
	rootTok := e.signIn(t, root)
	want(t, e.do(t, http.MethodPost, "/permissions", rootTok, map[string]any{"name": "models:use"}), http.StatusCreated, "define")
	want(t, e.do(t, http.MethodPost, "/roles", rootTok, map[string]any{"name": "modeler", "parent": "viewer", "permissions": []string{"models:use"}}), http.StatusCreated, "modeler")
	want(t, e.do(t, http.MethodPost, "/roles", rootTok, map[string]any{"name": "rolemgr", "parent": "manager", "permissions": []string{"users:roles"}}), http.StatusCreated, "rolemgr")
	want(t, e.do(t, http.MethodPost, "/roles", rootTok, map[string]any{"name": "rolemgr-models", "parent": "rolemgr", "permissions": []string{"models:use"}}), http.StatusCreated, "rolemgr-models")

	holder := e.createUser(t, "modeler")
	r := e.do(t, http.MethodPut, "/users/"+holder.ID+"/denied-permissions", rootTok, map[string]any{"permissions": []string{"models:use"}})
	want(t, r, http.StatusOK, "an admin without models:use denies it to its holder")

	target := e.createUser(t, "viewer")
	lacks := e.signIn(t, e.createUser(t, "rolemgr"))
	r = e.do(t, http.MethodPut, "/users/"+target.ID+"/roles", lacks, map[string]any{"roles": []string{"viewer", "modeler"}})
	want(t, r, http.StatusForbidden, "a role manager without models:use grants modeler")
	if p := r.problem(t); !strings.Contains(p.Detail, "models:use") {
		t.Errorf("refusal %q does not name models:use", p.Detail)
	}
	holds := e.signIn(t, e.createUser(t, "rolemgr-models"))
	want(t, e.do(t, http.MethodPut, "/users/"+target.ID+"/roles", holds, map[string]any{"roles": []string{"viewer", "modeler"}}), http.StatusOK,
		"a role manager with models:use grants modeler")
}
