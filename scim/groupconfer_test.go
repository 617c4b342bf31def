package scim_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestGroupPatchCustomPermission: a group's role carrying a custom
// permission is the provisioner's to hand out through a SCIM PATCH only
// when it holds the permission; refused (403), the membership is absent.
func TestGroupPatchCustomPermission(t *testing.T) {
	bothStores(t, func(t *testing.T, e *env) {
		cli := domain.Actor{Type: store.ActorCLI}
		if _, err := e.Svc.CreatePermission(ctxT(t), cli, store.Permission{Name: "reports:export"}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []store.Role{
			{Name: "reporter", Parent: "viewer", Permissions: []string{"reports:export"}},
			{Name: "provisioner", Parent: "manager", Permissions: []string{store.PermSCIMProvision}},
			{Name: "provisioner-reports", Parent: "provisioner", Permissions: []string{"reports:export"}},
		} {
			if _, err := e.Svc.CreateRole(ctxT(t), cli, r); err != nil {
				t.Fatal(err)
			}
		}
		g, err := e.Svc.CreateGroup(ctxT(t), cli, domain.NewGroup{Name: "Exporters", Roles: []string{"reporter"}})
		if err != nil {
			t.Fatal(err)
		}
		u, err := e.Svc.CreateUser(ctxT(t), cli, domain.NewUser{Username: "viv", Email: "viv@example.com", Roles: []string{"viewer"}})
		if err != nil {
			t.Fatal(err)
		}
		add := patch(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": u.ID}}})
		members := func() []string {
			m, err := e.Store.ListGroupMembers(ctxT(t), g.ID)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}

		weak, _ := e.systemToken(t, []string{"provisioner"})
		wantError(t, e.call(t, http.MethodPatch, "/Groups/"+g.ID, weak, add), http.StatusForbidden, "", "provisioner without reports:export")
		if m := members(); len(m) != 0 {
			t.Fatalf("a refused add left members %v", m)
		}
		holder, _ := e.systemToken(t, []string{"provisioner-reports"})
		want(t, e.call(t, http.MethodPatch, "/Groups/"+g.ID, holder, add), http.StatusOK, "provisioner with reports:export")
		if m := members(); !slices.Equal(m, []string{u.ID}) {
			t.Fatalf("members %v, want [%s]", m, u.ID)
		}
	})
}
