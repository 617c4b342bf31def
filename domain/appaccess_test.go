package domain_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// A user passes a client's access rule through a role held directly,
// through a group's role, through an inherited role (admin ⊃ manager), or
// as a member of a listed group; anyone else does not, and an empty rule
// admits everyone.
func TestMayUseClient(t *testing.T) {
	e := newEnv(t)
	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "Desk", Roles: []string{"manager"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	direct := e.user("direct", "manager")
	viaGroup := e.user("viagroup", "viewer")
	if err := e.svc.AddGroupMember(e.ctx, admin, g.ID, viaGroup.ID); err != nil {
		t.Fatal(err)
	}
	inherited := e.user("inherited", "admin")
	member := e.user("member", "viewer")
	if err := e.svc.AddGroupMember(e.ctx, admin, other.ID, member.ID); err != nil {
		t.Fatal(err)
	}
	outsider := e.user("outsider", "user")
	// A time-boxed manager grant one second past its end admits no more.
	expired := e.user("expired", "manager")
	expired.RoleExpiry = map[string]time.Time{"manager": e.clock.Now().Add(-time.Second)}

	rule := store.ClientAccess{Roles: []string{"manager"}, Groups: []string{other.ID}}
	c := store.Client{ID: "app", Access: rule}
	for _, tc := range []struct {
		name string
		u    store.User
		want bool
	}{
		{"direct role", direct, true},
		{"role through a group", viaGroup, true},
		{"inherited role", inherited, true},
		{"listed group", member, true},
		{"neither", outsider, false},
		{"expired time-boxed role", expired, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.MayUseClient(e.ctx, tc.u, c)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("MayUseClient = %v, want %v", got, tc.want)
			}
		})
	}
	if ok, err := e.svc.MayUseClient(e.ctx, outsider, store.Client{ID: "open"}); err != nil || !ok {
		t.Fatalf("unrestricted client: %v, %v; want true", ok, err)
	}
}

// A rule naming an unknown role or group is refused, naming the field.
func TestClientAccessValidation(t *testing.T) {
	e := newEnv(t)
	c := store.Client{ID: "svc", GrantTypes: []string{"client_credentials"},
		Access: store.ClientAccess{Roles: []string{"wizard"}, Groups: []string{"00000000-0000-0000-0000-000000000001"}}}
	_, _, err := e.svc.CreateClient(e.ctx, admin, c)
	got := fieldsOf(t, err)
	if len(got) != 2 || got[0] != "access.roles" || got[1] != "access.groups" {
		t.Fatalf("fields = %v, want [access.roles access.groups]", got)
	}
	c.Access = store.ClientAccess{Roles: []string{"manager"}}
	out, _, err := e.svc.CreateClient(e.ctx, admin, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Access.Roles) != 1 || out.Access.Roles[0] != "manager" {
		t.Fatalf("stored Access = %#v", out.Access)
	}
}
