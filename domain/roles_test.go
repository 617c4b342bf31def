package domain_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

func TestCreateRoleValidation(t *testing.T) {
	tests := []struct {
		name string
		role store.Role
		want []string
	}{
		{"valid", store.Role{Name: "trader", Parent: "user", Permissions: []string{store.PermAuditRead}}, nil},
		{"name too short", store.Role{Name: "t"}, []string{"name"}},
		{"name too long", store.Role{Name: strings.Repeat("t", 51)}, []string{"name"}},
		{"name uppercase", store.Role{Name: "Trader"}, []string{"name"}},
		{"name with dot", store.Role{Name: "tra.der"}, []string{"name"}},
		{"description too long", store.Role{Name: "trader", Description: strings.Repeat("d", 501)}, []string{"description"}},
		{"unknown parent", store.Role{Name: "trader", Parent: "wizard"}, []string{"parent"}},
		{"parent is itself", store.Role{Name: "trader", Parent: "trader"}, []string{"parent"}},
		{"unknown permission", store.Role{Name: "trader", Permissions: []string{"users:read", "money:print"}}, []string{"permissions"}},
		{"too many goals", store.Role{Name: "trader", SuggestedGoals: make([]string, 21)}, []string{"suggested_goals", "suggested_goals"}},
		{"every problem at once", store.Role{Name: "X", Description: strings.Repeat("d", 501), Parent: "wizard",
			Permissions: []string{"nope"}, SuggestedGoals: []string{strings.Repeat("g", 201)}},
			[]string{"name", "description", "parent", "permissions", "suggested_goals"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.name == "too many goals" {
				fillGoals(tc.role.SuggestedGoals)
				tc.want = []string{"suggested_goals"}
			}
			r, err := e.svc.CreateRole(e.ctx, admin, tc.role)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if r.BuiltIn || r.Name != tc.role.Name {
					t.Fatalf("role = %+v", r)
				}
				return
			}
			if got := fieldsOf(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v, want %v (%v)", got, tc.want, err)
			}
			if len(e.audit()) != 0 {
				t.Fatal("a refused create left an audit entry")
			}
		})
	}
}

func TestCreateRoleCannotClaimBuiltIn(t *testing.T) {
	e := newEnv(t)
	r, err := e.svc.CreateRole(e.ctx, admin, store.Role{Name: "sneaky", BuiltIn: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.BuiltIn {
		t.Fatal("a custom role was stored as built in")
	}
	_, err = e.svc.CreateRole(e.ctx, admin, store.Role{Name: "sneaky"})
	wantErr(t, err, store.ErrConflict)
	_, err = e.svc.CreateRole(e.ctx, admin, store.Role{Name: "admin"})
	wantErr(t, err, store.ErrConflict)
}

func TestRoleHierarchyRefusesCycles(t *testing.T) {
	e := newEnv(t)
	// a <- b <- c (c inherits b, b inherits a).
	for _, r := range []store.Role{{Name: "aa", Parent: "viewer"}, {Name: "bb", Parent: "aa"}, {Name: "cc", Parent: "bb"}} {
		if _, err := e.svc.CreateRole(e.ctx, admin, r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		role   string
		patch  domain.RolePatch
		wantOK bool
		field  string
	}{
		{"parent is a grandchild", "aa", domain.RolePatch{Parent: ptr("cc")}, false, "parent"},
		{"parent is a child", "aa", domain.RolePatch{Parent: ptr("bb")}, false, "parent"},
		{"parent is itself", "bb", domain.RolePatch{Parent: ptr("bb")}, false, "parent"},
		{"parent does not exist", "bb", domain.RolePatch{Parent: ptr("zz")}, false, "parent"},
		{"built-in gets a custom role as parent", "manager", domain.RolePatch{Parent: ptr("aa")}, false, "parent"},
		{"built-in parent change", "manager", domain.RolePatch{Parent: ptr("viewer")}, false, "parent"},
		{"built-in permissions change", "admin", domain.RolePatch{Permissions: ptr([]string{store.PermUsersRead})}, false, "permissions"},
		{"unknown permission", "aa", domain.RolePatch{Permissions: ptr([]string{"x:y"})}, false, "permissions"},
		{"move a subtree sideways", "bb", domain.RolePatch{Parent: ptr("user")}, true, ""},
		{"drop the parent", "aa", domain.RolePatch{Parent: ptr("")}, true, ""},
		{"built-in description and goals", "admin", domain.RolePatch{Description: ptr("Root"), SuggestedGoals: ptr([]string{"keep it running"})}, true, ""},
		{"built-in permissions in another order", "manager", domain.RolePatch{Permissions: ptr([]string{
			store.PermAuditRead, store.PermUsersRead, store.PermUsersStatus, store.PermAccessRequestsReview, store.PermTokensUsers})}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.lastID()
			cur, _ := e.svc.GetRole(e.ctx, tc.role)
			got, err := e.svc.UpdateRole(e.ctx, admin, tc.role, tc.patch)
			if !tc.wantOK {
				if f := fieldsOf(t, err); !slices.Equal(f, []string{tc.field}) {
					t.Fatalf("fields = %v, want [%s]", f, tc.field)
				}
				after, _ := e.svc.GetRole(e.ctx, tc.role)
				if after.Parent != cur.Parent || !slices.Equal(after.Permissions, cur.Permissions) {
					t.Fatalf("a refused update changed the role: %+v", after)
				}
				if len(e.since(before)) != 0 {
					t.Fatal("a refused update left an audit entry")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.patch.Parent != nil && got.Parent != *tc.patch.Parent {
				t.Fatalf("parent = %q", got.Parent)
			}
		})
	}
}

func TestDeleteRole(t *testing.T) {
	e := newEnv(t)
	for _, r := range []store.Role{{Name: "parent-role"}, {Name: "child-role", Parent: "parent-role"},
		{Name: "held-by-user"}, {Name: "held-by-group"}, {Name: "unused"}} {
		if _, err := e.svc.CreateRole(e.ctx, admin, r); err != nil {
			t.Fatal(err)
		}
	}
	e.user("alice", "held-by-user")
	if _, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "g", Roles: []string{"held-by-group"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role string
		want error
	}{
		{"admin", store.ErrConflict},
		{"parent-role", store.ErrConflict},
		{"held-by-user", store.ErrConflict},
		{"held-by-group", store.ErrConflict},
		{"nothing-here", store.ErrNotFound},
		{"unused", nil},
	}
	for _, tc := range tests {
		t.Run(tc.role, func(t *testing.T) {
			before := e.lastID()
			err := e.svc.DeleteRole(e.ctx, admin, tc.role)
			entries := e.since(before)
			if tc.want != nil {
				wantErr(t, err, tc.want)
				if len(entries) != 0 {
					t.Fatal("a refused delete left an audit entry")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Action != "role.delete" || entries[0].TargetID != tc.role {
				t.Fatalf("entries = %+v", entries)
			}
			_, err = e.svc.GetRole(e.ctx, tc.role)
			wantErr(t, err, store.ErrNotFound)
		})
	}
}

const personas = `
roles:
  - name: senior-trader
    description: Trades larger books.
    parent: trader
    suggested_goals: [Mentor juniors]
  - name: trader
    description: Trades.
    parent: user
    permissions: [dashboards:read]
    suggested_goals: [Beat the benchmark, Cut slippage]
  - name: analyst
    parent: viewer
`

func TestImportRoles(t *testing.T) {
	e := newEnv(t)
	created, updated, err := e.svc.ImportRoles(e.ctx, domain.CLIActor(), []byte(personas))
	if err != nil {
		t.Fatal(err)
	}
	if created != 3 || updated != 0 {
		t.Fatalf("created %d updated %d, want 3 0", created, updated)
	}
	r, err := e.svc.GetRole(e.ctx, "senior-trader")
	if err != nil || r.Parent != "trader" {
		t.Fatalf("senior-trader = %+v, %v", r, err)
	}
	entries := e.audit()
	if countAction(entries, "role.create") != 3 || entries[0].ActorType != store.ActorCLI {
		t.Fatalf("entries = %+v", entries)
	}

	t.Run("a second import of the same file changes nothing", func(t *testing.T) {
		before := e.lastID()
		c, u, err := e.svc.ImportRoles(e.ctx, domain.CLIActor(), []byte(personas))
		if err != nil || c != 0 || u != 0 {
			t.Fatalf("created %d updated %d err %v", c, u, err)
		}
		if len(e.since(before)) != 0 {
			t.Fatal("an idempotent import left audit entries")
		}
	})

	t.Run("changed entries update, absent fields are kept", func(t *testing.T) {
		c, u, err := e.svc.ImportRoles(e.ctx, domain.CLIActor(), []byte("roles:\n  - name: trader\n    description: Trades for a living.\n"))
		if err != nil || c != 0 || u != 1 {
			t.Fatalf("created %d updated %d err %v", c, u, err)
		}
		r, _ := e.svc.GetRole(e.ctx, "trader")
		if r.Description != "Trades for a living." || r.Parent != "user" || len(r.SuggestedGoals) != 2 {
			t.Fatalf("trader = %+v", r)
		}
	})

	bad := []struct {
		name string
		doc  string
		want []string
	}{
		{"cycle inside the document", "roles:\n  - name: xa\n    parent: xb\n  - name: xb\n    parent: xa\n",
			[]string{"roles[0].parent", "roles[1].parent"}},
		{"cycle through a stored role", "roles:\n  - name: trader\n    parent: senior-trader\n", []string{"roles[0].parent"}},
		{"unknown permission", "roles:\n  - name: xa\n    permissions: [money:print]\n", []string{"roles[0].permissions"}},
		{"built-in permissions", "roles:\n  - name: viewer\n    permissions: [users:read]\n", []string{"roles[0].permissions"}},
		{"duplicate name", "roles:\n  - name: xa\n  - name: xa\n", []string{"roles[1].name"}},
		{"bad name", "roles:\n  - name: X\n", []string{"roles[0].name"}},
		{"unknown field", "roles:\n  - name: xa\n    colour: red\n", []string{"document"}},
		{"not YAML", "roles: [", []string{"document"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			before := e.lastID()
			rolesBefore, _ := e.svc.ListRoles(e.ctx)
			_, _, err := e.svc.ImportRoles(e.ctx, domain.CLIActor(), []byte(tc.doc))
			if got := fieldsOf(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v, want %v (%v)", got, tc.want, err)
			}
			rolesAfter, _ := e.svc.ListRoles(e.ctx)
			if len(rolesAfter) != len(rolesBefore) || len(e.since(before)) != 0 {
				t.Fatal("a refused import wrote something")
			}
		})
	}
}

// countingStore counts role reads, to hold EffectiveRoles to one query for
// the whole hierarchy.
type countingStore struct {
	*memory.Store
	listRoles, getRole atomic.Int32
}

func (c *countingStore) ListRoles(ctx context.Context) ([]store.Role, error) {
	c.listRoles.Add(1)
	return c.Store.ListRoles(ctx)
}

func (c *countingStore) GetRole(ctx context.Context, name string) (store.Role, error) {
	c.getRole.Add(1)
	return c.Store.GetRole(ctx, name)
}

func TestEffectiveRolesAndPermissions(t *testing.T) {
	e := newEnv(t)
	cs := &countingStore{Store: e.store}
	svc := domain.NewService(cs, domain.Options{Passwords: e.svc.Passwords(), Now: e.clock.Now})
	for _, r := range []store.Role{
		{Name: "trader", Parent: "user", Permissions: []string{store.PermAuditRead}},
		{Name: "analyst", Parent: "viewer"},
		{Name: "unrelated", Permissions: []string{store.PermClientsWrite}},
	} {
		if _, err := e.svc.CreateRole(e.ctx, admin, r); err != nil {
			t.Fatal(err)
		}
	}
	u := e.user("alice", "trader")
	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "research", Roles: []string{"analyst"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddGroupMember(e.ctx, admin, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}

	cs.listRoles.Store(0)
	roles, err := svc.EffectiveRoles(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"analyst", "trader", "user", "viewer"}; !slices.Equal(roles, want) {
		t.Fatalf("roles = %v, want %v", roles, want)
	}
	if n, m := cs.listRoles.Load(), cs.getRole.Load(); n != 1 || m != 0 {
		t.Fatalf("%d ListRoles and %d GetRole calls, want 1 and 0", n, m)
	}

	p, err := svc.UserPrincipal(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	perms := map[string]bool{
		store.PermAuditRead:      true, // trader's own
		store.PermTokensSelf:     true, // user, trader's parent
		store.PermDashboardsRead: true, // viewer, through both
		store.PermProfileRead:    true,
		store.PermProfileWrite:   true,
		store.PermClientsWrite:   false, // a role nobody holds
		store.PermUsersRead:      false, // manager's, not inherited downwards
	}
	for perm, want := range perms {
		if p.Can(perm) != want {
			t.Errorf("Can(%s) = %v, want %v", perm, !want, want)
		}
	}
	if p.Actor != (domain.Actor{Type: store.ActorUser, ID: u.ID}) || p.User == nil || p.User.ID != u.ID {
		t.Errorf("principal = %+v", p)
	}

	// Nothing is cached: leaving the group takes its roles away at once.
	if err := e.svc.RemoveGroupMember(e.ctx, admin, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	roles, _ = svc.EffectiveRoles(e.ctx, u)
	if want := []string{"trader", "user", "viewer"}; !slices.Equal(roles, want) {
		t.Fatalf("roles after leaving the group = %v, want %v", roles, want)
	}
}

func TestUserPrincipalNeedsAnActiveUser(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	past := e.clock.Now().Add(-1)
	tests := []struct {
		name   string
		mutate func(u *store.User)
	}{
		{"pending", func(u *store.User) { u.Status = store.StatusPending }},
		{"locked", func(u *store.User) { u.Status = store.StatusLocked }},
		{"disabled", func(u *store.User) { u.Status = store.StatusDisabled }},
		{"expired", func(u *store.User) { u.ExpiresAt = &past }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := u
			tc.mutate(&v)
			_, err := e.svc.UserPrincipal(e.ctx, v)
			wantErr(t, err, domain.ErrUnauthenticated)
		})
	}
}

func TestClientPrincipal(t *testing.T) {
	e := newEnv(t)
	p, err := e.svc.ClientPrincipal(e.ctx, store.Client{ID: "svc", Roles: []string{"manager"}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Can(store.PermUsersRead) || !p.Can(store.PermTokensSelf) || p.Can(store.PermUsersDelete) {
		t.Fatalf("manager service account permissions = %v", p.Permissions)
	}
	if p.Actor != (domain.Actor{Type: store.ActorClient, ID: "svc"}) || p.Client == nil || p.User != nil {
		t.Fatalf("principal = %+v", p)
	}
	none, err := e.svc.ClientPrincipal(e.ctx, store.Client{ID: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	if len(none.Permissions) != 0 || len(none.Roles) != 0 {
		t.Fatalf("a client without roles has %v %v", none.Roles, none.Permissions)
	}
}
