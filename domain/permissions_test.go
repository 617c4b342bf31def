package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// A time-boxed grant counts until its instant and not one second after,
// with nothing written in between: the principal, the effective roles and
// the permissions claim all read the clock.
func TestTimeBoxedGrantStopsCountingAtItsExpiry(t *testing.T) {
	e := newEnv(t)
	root := domain.Operator(domain.CLIActor())
	u := e.user("temp", "viewer")
	until := e.clock.Now().Add(time.Hour)
	if _, err := e.svc.SetUserRoleGrants(e.ctx, root, u.ID, []domain.RoleGrant{
		{Role: "viewer"}, {Role: "manager", ExpiresAt: &until},
	}); err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.GetUser(e.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.RoleExpiry["manager"]; !got.Equal(until) {
		t.Fatalf("stored expiry %v, want %v", got, until)
	}
	check := func(when string, wantManager bool) {
		t.Helper()
		p, err := e.svc.UserPrincipal(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if p.Can(store.PermUsersRead) != wantManager || slices.Contains(p.Roles, "manager") != wantManager {
			t.Errorf("%s: principal roles %v, users:read %v; want manager %v", when, p.Roles, p.Can(store.PermUsersRead), wantManager)
		}
		perms, err := e.svc.EffectivePermissions(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(perms, store.PermUsersRead) != wantManager || !slices.Contains(perms, store.PermDashboardsRead) {
			t.Errorf("%s: effective permissions %v", when, perms)
		}
		roles, err := e.svc.EffectiveRoles(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(roles, "manager") != wantManager {
			t.Errorf("%s: effective roles %v", when, roles)
		}
		if got := slices.Contains(e.svc.HeldRoles(u), "manager"); got != wantManager {
			t.Errorf("%s: held roles %v", when, e.svc.HeldRoles(u))
		}
	}
	e.clock.Set(until.Add(-time.Second))
	check("one second before", true)
	e.clock.Set(until)
	check("at the instant", false)
	e.clock.Set(until.Add(time.Second))
	check("one second after", false)

	// The janitor's batch removes it and audits the removal.
	n, err := e.svc.ExpireRoleGrants(e.ctx, e.clock.Now(), 10)
	if err != nil || n != 1 {
		t.Fatalf("ExpireRoleGrants = %d, %v; want 1", n, err)
	}
	last := e.audit()[len(e.audit())-1]
	if last.Action != "user.role.expire" || last.TargetID != u.ID || last.ActorType != store.ActorSystem {
		t.Errorf("last audit entry %+v, want user.role.expire of the user by the system", last)
	}
	u, _ = e.svc.GetUser(e.ctx, u.ID)
	if !slices.Equal(u.Roles, []string{"viewer"}) {
		t.Errorf("roles after the janitor %v, want [viewer]", u.Roles)
	}
}

// An expiry in the past is refused naming the field; a role given without
// an expiry keeps the one it has, Permanent clears it.
func TestSetUserRoleGrantsExpiryRules(t *testing.T) {
	e := newEnv(t)
	root := domain.Operator(domain.CLIActor())
	u := e.user("temp", "viewer")
	past := e.clock.Now().Add(-time.Second)
	_, err := e.svc.SetUserRoleGrants(e.ctx, root, u.ID, []domain.RoleGrant{{Role: "manager", ExpiresAt: &past}})
	if f := fieldsOf(t, err); !slices.Equal(f, []string{"role_grants[0].expires_at"}) {
		t.Errorf("past expiry: fields %v (%v)", f, err)
	}
	until := e.clock.Now().Add(24 * time.Hour)
	if _, err := e.svc.SetUserRoleGrants(e.ctx, root, u.ID, []domain.RoleGrant{{Role: "manager", ExpiresAt: &until}}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.SetUserRoles(e.ctx, root, u.ID, []string{"manager", "user"})
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := got.RoleExpiry["manager"]; !ok || !at.Equal(until) || len(got.RoleExpiry) != 1 {
		t.Errorf("after SetUserRoles: expiry %v, want manager's kept", got.RoleExpiry)
	}
	got, err = e.svc.SetUserRoleGrants(e.ctx, root, u.ID, []domain.RoleGrant{{Role: "manager", Permanent: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got.RoleExpiry != nil {
		t.Errorf("after Permanent: expiry %v, want none", got.RoleExpiry)
	}
}

// The deny list wins over a direct role and a group's role, and the
// sources say where each permission comes from.
func TestDenyWinsAndSourcesExplain(t *testing.T) {
	e := newEnv(t)
	root := domain.Operator(domain.CLIActor())
	u := e.user("ann", "admin")
	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "ops", Roles: []string{"manager"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.AddGroupMember(e.ctx, admin, g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	e.user("bob", "admin") // so that ann is not the last whole admin
	_, acc, err := e.svc.UserAccess(e.ctx, root, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, gr := range acc.Grants {
		if gr.Permission == store.PermUsersRead {
			for _, s := range gr.Sources {
				sources = append(sources, s.String())
			}
		}
	}
	slices.Sort(sources)
	want := []string{"from role admin (inherits manager)", "from role manager via group ops"}
	if !slices.Equal(sources, want) {
		t.Errorf("users:read sources %q, want %q", sources, want)
	}

	if _, err := e.svc.SetDeniedPermissions(e.ctx, root, u.ID, []string{store.PermUsersRead}); err != nil {
		t.Fatal(err)
	}
	u, _ = e.svc.GetUser(e.ctx, u.ID)
	p := e.principal(u)
	if p.Can(store.PermUsersRead) || !p.Can(store.PermUsersWrite) {
		t.Errorf("denied: users:read %v, users:write %v; want false, true", p.Can(store.PermUsersRead), p.Can(store.PermUsersWrite))
	}
	_, acc, _ = e.svc.UserAccess(e.ctx, root, u.ID)
	for _, gr := range acc.Grants {
		if gr.Permission == store.PermUsersRead && (!gr.Denied || gr.Granted() || len(gr.Sources) != 2) {
			t.Errorf("users:read grant %+v, want denied with both sources", gr)
		}
	}
	if last := e.audit()[len(e.audit())-1]; last.Action != "user.denied_permissions" {
		t.Errorf("last audit action %q, want user.denied_permissions", last.Action)
	}
	// An unknown name is refused naming the field.
	_, err = e.svc.SetDeniedPermissions(e.ctx, root, u.ID, []string{"no:such"})
	if f := fieldsOf(t, err); !slices.Equal(f, []string{"permissions"}) {
		t.Errorf("unknown denied permission: fields %v", f)
	}
}

// A deny list on the last admin is refused: someone must keep every power.
func TestDenyKeepsAWholeAdmin(t *testing.T) {
	e := newEnv(t)
	u := e.user("ann", "admin")
	_, err := e.svc.SetDeniedPermissions(e.ctx, domain.Operator(domain.CLIActor()), u.ID, []string{store.PermUsersRoles})
	wantErr(t, err, store.ErrConflict)
}

func TestCustomPermissions(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{"Models:use", "models", "users:read", "models:use:x", ":use", "models:"} {
		_, err := e.svc.CreatePermission(e.ctx, admin, store.Permission{Name: bad})
		if f := fieldsOf(t, err); !slices.Equal(f, []string{"name"}) {
			t.Errorf("CreatePermission(%q): fields %v (%v)", bad, f, err)
		}
	}
	if _, err := e.svc.CreatePermission(e.ctx, admin, store.Permission{Name: "models:use", Description: "Call the models."}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.CreatePermission(e.ctx, admin, store.Permission{Name: "models:use"})
	wantErr(t, err, store.ErrConflict)

	// A role carries built-in and defined names; an unknown one is refused.
	_, err = e.svc.CreateRole(e.ctx, admin, store.Role{Name: "modeler", Parent: "viewer", Permissions: []string{"models:use", "nope:x"}})
	if f := fieldsOf(t, err); !slices.Equal(f, []string{"permissions"}) {
		t.Errorf("unknown permission on a role: fields %v", f)
	}
	if _, err := e.svc.CreateRole(e.ctx, admin, store.Role{Name: "modeler", Parent: "viewer", Permissions: []string{"models:use", store.PermUsersRead}}); err != nil {
		t.Fatal(err)
	}
	u := e.user("moe", "modeler")
	perms, err := e.svc.EffectivePermissions(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(perms, "models:use") {
		t.Errorf("permissions %v lack models:use", perms)
	}
	// Delete is refused while a role carries it.
	wantErr(t, e.svc.DeletePermission(e.ctx, admin, "models:use"), store.ErrConflict)
	if _, err := e.svc.UpdateRole(e.ctx, admin, "modeler", domain.RolePatch{Permissions: &[]string{}}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeletePermission(e.ctx, admin, "models:use"); err != nil {
		t.Fatal(err)
	}
	got := actions(e.audit())
	for _, a := range []string{"permission.create", "permission.delete"} {
		if !slices.Contains(got, a) {
			t.Errorf("audit actions %v lack %s", got, a)
		}
	}
}
