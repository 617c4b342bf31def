package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestCustomPermissionsConferNoPower: the power comparison counts
// gatehouse's own permissions only, so holding a custom permission makes
// nobody untouchable; giving one (a role grant, an approval, becoming its
// holder by token exchange) takes a holder of it or an admin.
func TestCustomPermissionsConferNoPower(t *testing.T) {
	e := newEnv(t)
	op := domain.Operator(admin)
	if _, err := e.svc.CreatePermission(e.ctx, admin, store.Permission{Name: "models:use"}); err != nil {
		t.Fatal(err)
	}
	roles := []store.Role{
		{Name: "modeler", Parent: "user", Permissions: []string{"models:use"}},
		// A role manager: users:roles without being admin.
		{Name: "rolemgr", Parent: "manager", Permissions: []string{store.PermUsersRoles}},
		{Name: "rolemgr-models", Parent: "rolemgr", Permissions: []string{"models:use"}},
		{Name: "support", Parent: "user", Permissions: []string{store.PermUsersImpersonate}},
		{Name: "support-models", Parent: "support", Permissions: []string{"models:use"}},
	}
	for _, r := range roles {
		if _, err := e.svc.CreateRole(e.ctx, admin, r); err != nil {
			t.Fatalf("role %s: %v", r.Name, err)
		}
	}
	root := e.user("root", "admin")
	e.user("second", "admin") // so that the last-admin rule is not what refuses
	// An admin whose deny list takes a custom permission still holds every
	// built-in one.
	deniedRoot := e.user("deniedroot", "admin")
	if _, err := e.svc.SetDeniedPermissions(e.ctx, op, deniedRoot.ID, []string{"models:use"}); err != nil {
		t.Fatal(err)
	}
	mgr := e.user("mgr", "manager")
	rolemgr := e.user("rolemgr", "rolemgr")
	rolemgrModels := e.user("rolemgrmodels", "rolemgr-models")
	agent := e.user("agent", "support")
	agentModels := e.user("agentmodels", "support-models")

	n := 0
	fresh := func(roles ...string) store.User {
		n++
		return e.user("target"+strings.Repeat("x", n), roles...)
	}
	grant := func(by store.User, roles ...string) error {
		u := fresh("user")
		_, err := e.svc.SetUserRoles(e.ctx, e.principal(by), u.ID, append([]string{"user"}, roles...))
		return err
	}
	approve := func(by store.User, role string) error {
		u := fresh()
		req, err := e.svc.SubmitAccessRequest(e.ctx, domain.Actor{Type: store.ActorUser, ID: u.ID}, u.ID, role, "to train models")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.ApproveAccessRequest(e.ctx, e.principal(by), req.ID, "", "ok")
		return err
	}
	impersonate := func(by store.User) error {
		u := fresh("modeler")
		_, err := e.svc.Impersonate(e.ctx, domain.ImpersonationRequest{CallerUserID: by.ID, Target: u.ID, ClientID: "console"})
		return err
	}

	for _, c := range []struct {
		name    string
		act     func() error
		wantErr error  // nil: allowed
		naming  string // what a refusal names
	}{
		// Power over gatehouse: built-in permissions only.
		{"admin without it denies it to its holder", func() error {
			_, err := e.svc.SetDeniedPermissions(e.ctx, e.principal(root), fresh("modeler").ID, []string{"models:use"})
			return err
		}, nil, ""},
		{"admin without it locks its holder", func() error {
			_, err := e.svc.SetUserStatus(e.ctx, e.principal(root), fresh("modeler").ID, store.StatusLocked)
			return err
		}, nil, ""},
		{"manager without it changes its holder's profile", func() error {
			_, err := e.svc.UpdateUser(e.ctx, e.principal(mgr), fresh("modeler").ID, domain.UserPatch{Department: ptr("Models")})
			return err
		}, nil, ""},
		{"manager still cannot act on an admin", func() error {
			_, err := e.svc.SetUserStatus(e.ctx, e.principal(mgr), fresh("admin").ID, store.StatusLocked)
			return err
		}, domain.ErrForbidden, store.PermUsersRoles},
		{"role manager without it denies it", func() error {
			_, err := e.svc.SetDeniedPermissions(e.ctx, e.principal(rolemgr), fresh("modeler").ID, []string{"models:use"})
			return err
		}, nil, ""},

		// Granting a role that carries it.
		{"admin without it grants it", func() error { return grant(root, "modeler") }, nil, ""},
		{"admin with it denied grants it", func() error { return grant(deniedRoot, "modeler") }, nil, ""},
		{"role manager without it grants it", func() error { return grant(rolemgr, "modeler") }, domain.ErrForbidden, "models:use"},
		{"role manager with it grants it", func() error { return grant(rolemgrModels, "modeler") }, nil, ""},
		{"role manager without it grants a role without it", func() error { return grant(rolemgr, "viewer") }, nil, ""},
		{"role manager without it keeps a holder's role", func() error {
			u := fresh("modeler")
			_, err := e.svc.SetUserRoles(e.ctx, e.principal(rolemgr), u.ID, []string{"modeler", "viewer"})
			return err
		}, nil, ""},
		{"role manager without it extends a time-boxed grant of it", func() error {
			u := fresh("user")
			soon, later := e.clock.Now().Add(time.Hour), e.clock.Now().Add(48*time.Hour)
			if _, err := e.svc.SetUserRoleGrants(e.ctx, op, u.ID, []domain.RoleGrant{{Role: "modeler", ExpiresAt: &soon}}); err != nil {
				t.Fatal(err)
			}
			_, err := e.svc.SetUserRoleGrants(e.ctx, e.principal(rolemgr), u.ID, []domain.RoleGrant{{Role: "modeler", ExpiresAt: &later}})
			return err
		}, domain.ErrForbidden, "models:use"},
		{"role manager without it shortens a time-boxed grant of it", func() error {
			u := fresh("user")
			soon, later := e.clock.Now().Add(time.Hour), e.clock.Now().Add(48*time.Hour)
			if _, err := e.svc.SetUserRoleGrants(e.ctx, op, u.ID, []domain.RoleGrant{{Role: "modeler", ExpiresAt: &later}}); err != nil {
				t.Fatal(err)
			}
			_, err := e.svc.SetUserRoleGrants(e.ctx, e.principal(rolemgr), u.ID, []domain.RoleGrant{{Role: "modeler", ExpiresAt: &soon}})
			return err
		}, nil, ""},
		{"the CLI grants it", func() error {
			_, err := e.svc.SetUserRoles(e.ctx, op, fresh("user").ID, []string{"modeler"})
			return err
		}, nil, ""},

		// Approving a request for a role that carries it.
		{"admin without it approves it", func() error { return approve(root, "modeler") }, nil, ""},
		{"role manager without it approves it", func() error { return approve(rolemgr, "modeler") }, domain.ErrForbidden, "models:use"},
		{"role manager with it approves it", func() error { return approve(rolemgrModels, "modeler") }, nil, ""},

		// Becoming its holder by token exchange.
		{"admin without it impersonates its holder", func() error { return impersonate(root) }, nil, ""},
		{"support agent without it impersonates its holder", func() error { return impersonate(agent) }, domain.ErrForbidden, "models:use"},
		{"support agent with it impersonates its holder", func() error { return impersonate(agentModels) }, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.act()
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantErr(t, err, c.wantErr)
			if err != nil && !strings.Contains(err.Error(), c.naming) {
				t.Errorf("refusal %q does not name %s", err, c.naming)
			}
		})
	}
}
