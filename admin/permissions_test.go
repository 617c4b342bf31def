package admin_test

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestPermissionsAPIMemory(t *testing.T)   { testPermissionsAPI(t, newMemoryEnv(t)) }
func TestPermissionsAPIPostgres(t *testing.T) { testPermissionsAPI(t, newPostgresEnv(t)) }

// An expired grant stops counting for a live token at once; a deny beats
// the role that grants it; an unknown permission on a role is a 422.
func testPermissionsAPI(t *testing.T, e *env) {
	root := e.createUser(t, "admin")
	rootTok := e.signIn(t, root)
	u := e.createUser(t, "manager")
	tok := e.signIn(t, u)
	want(t, e.do(t, http.MethodGet, "/users?limit=1", tok, nil), http.StatusOK, "manager lists users")

	// A grant that expired one second ago, written directly: no invalidation.
	cur, err := e.Store.GetUser(ctxT(t), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.RoleExpiry = map[string]time.Time{"manager": time.Now().Add(-time.Second)}
	if err := e.Store.UpdateUser(ctxT(t), cur); err != nil {
		t.Fatal(err)
	}
	want(t, e.do(t, http.MethodGet, "/users?limit=1", tok, nil), http.StatusForbidden, "expired manager lists users")

	// A future grant through the API counts again and shows its expiry.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r := e.do(t, http.MethodPut, "/users/"+u.ID+"/roles", rootTok, map[string]any{
		"role_grants": []map[string]any{{"role": "manager", "expires_at": until}}})
	want(t, r, http.StatusOK, "time-boxed grant")
	grants, _ := r.JSON["role_grants"].([]any)
	if len(grants) != 1 || grants[0].(map[string]any)["expires_at"] != until.Format(time.RFC3339) {
		t.Errorf("role_grants %v, want manager until %s", r.JSON["role_grants"], until)
	}
	want(t, e.do(t, http.MethodGet, "/users?limit=1", tok, nil), http.StatusOK, "re-granted manager lists users")
	past := e.do(t, http.MethodPut, "/users/"+u.ID+"/roles", rootTok, map[string]any{
		"role_grants": []map[string]any{{"role": "manager", "expires_at": time.Now().Add(-time.Minute)}}})
	want(t, past, http.StatusUnprocessableEntity, "expiry in the past")
	if f := past.problem(t).fields(); !slices.Equal(f, []string{"role_grants[0].expires_at"}) {
		t.Errorf("fields %v", f)
	}

	// Deny beats the role: 403 for the permission the role grants.
	want(t, e.do(t, http.MethodPut, "/users/"+u.ID+"/denied-permissions", rootTok,
		map[string]any{"permissions": []string{"users:read"}}), http.StatusOK, "deny users:read")
	want(t, e.do(t, http.MethodGet, "/users?limit=1", tok, nil), http.StatusForbidden, "denied manager lists users")
	view := e.do(t, http.MethodGet, "/users/"+u.ID+"/permissions", tok, nil)
	want(t, view, http.StatusOK, "own permissions view")
	var pv struct {
		Permissions []struct {
			Permission string `json:"permission"`
			Granted    bool   `json:"granted"`
			Denied     bool   `json:"denied"`
			Sources    []struct {
				Source string `json:"source"`
			} `json:"sources"`
		} `json:"permissions"`
	}
	view.decode(t, &pv)
	found := false
	for _, p := range pv.Permissions {
		if p.Permission == "users:read" {
			found = p.Denied && !p.Granted && len(p.Sources) == 1 && p.Sources[0].Source != ""
		}
	}
	if !found {
		t.Errorf("permissions view %s: want users:read denied with its source", view.Raw)
	}

	// Custom permissions on roles; unknown ones refused naming the field.
	want(t, e.do(t, http.MethodPost, "/permissions", rootTok, map[string]any{"name": "models:use"}), http.StatusCreated, "define")
	bad := e.do(t, http.MethodPost, "/permissions", rootTok, map[string]any{"name": "users:read"})
	want(t, bad, http.StatusUnprocessableEntity, "shadow a built-in")
	unknown := e.do(t, http.MethodPost, "/roles", rootTok, map[string]any{"name": "modeler", "parent": "viewer",
		"permissions": []string{"models:use", "nope:x"}})
	want(t, unknown, http.StatusUnprocessableEntity, "unknown permission on a role")
	if f := unknown.problem(t).fields(); !slices.Equal(f, []string{"permissions"}) {
		t.Errorf("fields %v", f)
	}
	want(t, e.do(t, http.MethodPost, "/roles", rootTok, map[string]any{"name": "modeler", "parent": "viewer",
		"permissions": []string{"models:use"}}), http.StatusCreated, "role with a custom permission")
	want(t, e.do(t, http.MethodDelete, "/permissions/models:use", rootTok, nil), http.StatusConflict, "delete while carried")
}
