package admin_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestGroupCustomPermissionPowerMemory(t *testing.T) {
	testGroupCustomPermissionPower(t, newMemoryEnv(t))
}
func TestGroupCustomPermissionPowerPostgres(t *testing.T) {
	testGroupCustomPermissionPower(t, newPostgresEnv(t))
}

// A group's roles are its members': a manager with groups:write who lacks
// a custom permission may not hand it out through a group, neither by
// adding someone (or itself) to a group whose role carries it nor by
// giving a group such a role (403 problem+json naming it, nothing
// written, nothing audited); once it holds the permission it may, and an
// admin may without holding it, as for role grants.
func testGroupCustomPermissionPower(t *testing.T, e *env) {
	root := e.createUser(t, "admin")
	rootTok := e.signIn(t, root)
	want(t, e.do(t, http.MethodPost, "/permissions", rootTok, map[string]any{"name": "reports:export"}), http.StatusCreated, "define")
	want(t, e.do(t, http.MethodPost, "/roles", rootTok, map[string]any{"name": "reporter", "parent": "viewer", "permissions": []string{"reports:export"}}), http.StatusCreated, "reporter")
	want(t, e.do(t, http.MethodPost, "/roles", rootTok, map[string]any{"name": "groupmgr", "parent": "manager", "permissions": []string{"groups:write"}}), http.StatusCreated, "groupmgr")
	want(t, e.do(t, http.MethodPost, "/roles", rootTok, map[string]any{"name": "groupmgr-reports", "parent": "groupmgr", "permissions": []string{"reports:export"}}), http.StatusCreated, "groupmgr-reports")
	r := e.do(t, http.MethodPost, "/groups", rootTok, map[string]any{"name": "exporters", "roles": []string{"reporter"}})
	want(t, r, http.StatusCreated, "group with reporter")
	group, _ := r.JSON["id"].(string)
	r = e.do(t, http.MethodPost, "/groups", rootTok, map[string]any{"name": "readers", "roles": []string{"viewer"}})
	want(t, r, http.StatusCreated, "group with viewer")
	readers, _ := r.JSON["id"].(string)

	members := func(t *testing.T, id string) []string {
		t.Helper()
		m, err := e.iam(t).ListGroupMembers(ctxT(t), id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	refused := func(t *testing.T, r apiResponse, what string) {
		t.Helper()
		want(t, r, http.StatusForbidden, what)
		if p := r.problem(t); !strings.Contains(p.Detail, "reports:export") {
			t.Errorf("%s: refusal %q does not name reports:export", what, p.Detail)
		}
	}

	mgr := e.createUser(t, "groupmgr")
	mgrTok := e.signIn(t, mgr)
	target := e.createUser(t, "viewer")
	before := e.lastAuditID(t)
	refused(t, e.do(t, http.MethodPut, "/groups/"+group+"/members/"+target.ID, mgrTok, nil), "a manager without reports:export adds a member")
	refused(t, e.do(t, http.MethodPut, "/groups/"+group+"/members/"+mgr.ID, mgrTok, nil), "a manager without reports:export adds itself")
	if m := members(t, group); len(m) != 0 {
		t.Fatalf("members after the refusals: %v, want none", m)
	}
	refused(t, e.do(t, http.MethodPatch, "/groups/"+readers, mgrTok, map[string]any{"roles": []string{"viewer", "reporter"}}),
		"a manager without reports:export gives a group reporter")
	if g := e.do(t, http.MethodGet, "/groups/"+readers, rootTok, nil); !slices.Equal(anyStrings(g.JSON["roles"]), []string{"viewer"}) {
		t.Fatalf("readers' roles after the refusal: %s, want [viewer]", g.Raw)
	}
	refused(t, e.do(t, http.MethodPost, "/groups", mgrTok, map[string]any{"name": "mine", "roles": []string{"reporter"}}),
		"a manager without reports:export makes a group with reporter")
	if entries := e.auditSince(t, before); len(entries) != 0 {
		t.Fatalf("refusals audited: %+v", entries)
	}
	// What carries no custom permission it lacks stays its to do.
	want(t, e.do(t, http.MethodPut, "/groups/"+readers+"/members/"+target.ID, mgrTok, nil), http.StatusNoContent, "a manager adds a member to readers")
	want(t, e.do(t, http.MethodPatch, "/groups/"+readers, mgrTok, map[string]any{"description": "Dashboards"}), http.StatusOK, "a manager edits readers")

	// An admin without reports:export may, as for role grants.
	other := e.createUser(t, "viewer")
	want(t, e.do(t, http.MethodPut, "/groups/"+group+"/members/"+other.ID, rootTok, nil), http.StatusNoContent, "an admin adds a member")
	// Adding a member again changes nothing and is not refused.
	want(t, e.do(t, http.MethodPut, "/groups/"+group+"/members/"+other.ID, mgrTok, nil), http.StatusNoContent, "a manager adds an existing member")

	// Once the manager holds reports:export, it may.
	want(t, e.do(t, http.MethodPut, "/users/"+mgr.ID+"/roles", rootTok, map[string]any{"roles": []string{"groupmgr-reports"}}), http.StatusOK, "grant groupmgr-reports")
	want(t, e.do(t, http.MethodPut, "/groups/"+group+"/members/"+target.ID, mgrTok, nil), http.StatusNoContent, "a manager with reports:export adds a member")
	if m := members(t, group); !slices.Contains(m, target.ID) {
		t.Fatalf("members %v, want %s among them", m, target.ID)
	}
	want(t, e.do(t, http.MethodPatch, "/groups/"+readers, mgrTok, map[string]any{"roles": []string{"viewer", "reporter"}}), http.StatusOK,
		"a manager with reports:export gives a group reporter")
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, s := range l {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}
