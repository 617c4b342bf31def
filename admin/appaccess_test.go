package admin_test

import (
	"net/http"
	"slices"
	"testing"
)

// The app access rule in the API (appaccess), on both stores.
func TestClientAccessMemory(t *testing.T)   { runClientAccess(t, newMemoryEnv(t)) }
func TestClientAccessPostgres(t *testing.T) { runClientAccess(t, newPostgresEnv(t)) }

// runClientAccess: a client's access rule is taken on create, shown,
// merged per list by PATCH and cleared by null; a role, group or area that
// does not exist is a 422 naming access.roles, access.groups or
// access.areas, and changes nothing.
func runClientAccess(t *testing.T, e *env) {
	tok := e.signIn(t, e.createUser(t, "admin"))
	grp := e.do(t, http.MethodPost, "/groups", tok, map[string]any{"name": "desk-" + randomHex(t, 3)})
	want(t, grp, http.StatusCreated, "create group")
	groupID := grp.str("id")
	for _, a := range []map[string]any{{"code": "emea", "name": "EMEA"}, {"code": "emea-ch", "name": "CH", "parent": "emea"}} {
		want(t, e.do(t, http.MethodPost, "/areas", tok, a), http.StatusCreated, "create area")
	}
	type accessView struct {
		Roles  []string `json:"roles"`
		Groups []string `json:"groups"`
		Areas  []string `json:"areas"`
	}
	accessOf := func(r apiResponse) accessView {
		t.Helper()
		var v struct {
			Access *accessView `json:"access"`
		}
		r.decode(t, &v)
		if v.Access == nil || v.Access.Roles == nil || v.Access.Groups == nil || v.Access.Areas == nil {
			t.Fatalf("access missing or with null lists: %s", r.Raw)
		}
		return *v.Access
	}
	wantAccess := func(what string, got, wantV accessView) {
		t.Helper()
		if !slices.Equal(got.Roles, wantV.Roles) || !slices.Equal(got.Groups, wantV.Groups) || !slices.Equal(got.Areas, wantV.Areas) {
			t.Fatalf("%s: access %+v, want %+v", what, got, wantV)
		}
	}

	// A client without a rule shows empty lists.
	r := e.do(t, http.MethodPost, "/clients", tok, map[string]any{"client_id": "open", "redirect_uris": []string{"https://open.example/cb"}})
	want(t, r, http.StatusCreated, "create open client")
	wantAccess("open client", accessOf(r), accessView{Roles: []string{}, Groups: []string{}, Areas: []string{}})

	r = e.do(t, http.MethodPost, "/clients", tok, map[string]any{
		"client_id": "desk", "redirect_uris": []string{"https://desk.example/cb"},
		"access": map[string]any{"roles": []string{"manager"}, "groups": []string{groupID}, "areas": []string{"emea"}},
	})
	want(t, r, http.StatusCreated, "create restricted client")
	full := accessView{Roles: []string{"manager"}, Groups: []string{groupID}, Areas: []string{"emea"}}
	wantAccess("created", accessOf(r), full)
	wantAccess("GET", accessOf(e.do(t, http.MethodGet, "/clients/desk", tok, nil)), full)
	stored, err := e.Store.GetClient(ctxT(t), "desk")
	if err != nil || !slices.Equal(stored.Access.Areas, []string{"emea"}) {
		t.Fatalf("stored access %+v (err %v)", stored.Access, err)
	}

	for _, tc := range []struct {
		field  string
		access map[string]any
	}{
		{"access.roles", map[string]any{"roles": []string{"wizard"}}},
		{"access.groups", map[string]any{"groups": []string{newUUID(t)}}},
		{"access.areas", map[string]any{"areas": []string{"atlantis"}}},
	} {
		r := e.do(t, http.MethodPost, "/clients", tok, map[string]any{
			"client_id": "bad-" + randomHex(t, 3), "redirect_uris": []string{"https://bad.example/cb"}, "access": tc.access})
		want(t, r, http.StatusUnprocessableEntity, "create with a bad "+tc.field)
		if f := r.problem(t).fields(); !slices.Equal(f, []string{tc.field}) {
			t.Fatalf("create with a bad %s: fields %v", tc.field, f)
		}
		r = e.do(t, http.MethodPatch, "/clients/desk", tok, map[string]any{"access": tc.access})
		want(t, r, http.StatusUnprocessableEntity, "patch with a bad "+tc.field)
		if f := r.problem(t).fields(); !slices.Equal(f, []string{tc.field}) {
			t.Fatalf("patch with a bad %s: fields %v", tc.field, f)
		}
	}
	wantAccess("after refused patches", accessOf(e.do(t, http.MethodGet, "/clients/desk", tok, nil)), full)

	// A patch of one list keeps the others.
	r = e.do(t, http.MethodPatch, "/clients/desk", tok, map[string]any{"access": map[string]any{"areas": []string{"emea-ch"}}})
	want(t, r, http.StatusOK, "patch areas")
	wantAccess("patched areas", accessOf(r), accessView{Roles: []string{"manager"}, Groups: []string{groupID}, Areas: []string{"emea-ch"}})
	r = e.do(t, http.MethodPatch, "/clients/desk", tok, map[string]any{"access": map[string]any{"roles": nil}})
	want(t, r, http.StatusOK, "patch roles to null")
	wantAccess("roles removed", accessOf(r), accessView{Roles: []string{}, Groups: []string{groupID}, Areas: []string{"emea-ch"}})
	want(t, e.do(t, http.MethodPatch, "/clients/desk", tok, map[string]any{"access": map[string]any{"people": []string{"x"}}}),
		http.StatusBadRequest, "patch an unknown member of access")
	want(t, e.do(t, http.MethodPatch, "/clients/desk", tok, map[string]any{"access": []string{"manager"}}),
		http.StatusBadRequest, "patch access with a list")

	// null lets everyone in again.
	r = e.do(t, http.MethodPatch, "/clients/desk", tok, map[string]any{"access": nil})
	want(t, r, http.StatusOK, "clear access")
	wantAccess("cleared", accessOf(r), accessView{Roles: []string{}, Groups: []string{}, Areas: []string{}})
	if stored, err = e.Store.GetClient(ctxT(t), "desk"); err != nil || stored.Access.Restricted() {
		t.Fatalf("stored after clearing %+v (err %v)", stored.Access, err)
	}
}
