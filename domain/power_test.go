package domain_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestNobodyActsOnSomeoneMorePowerful: a manager may change, lock, reset,
// sign out, delete or strip the tokens of a user, but none of that of an
// admin; the refusal names what the manager lacks.
func TestNobodyActsOnSomeoneMorePowerful(t *testing.T) {
	e := newTokenEnv(t)
	e.user("second", "admin") // so that the last-admin rule is not what refuses
	mgr := e.principal(e.mgr)
	e.sessionWithToken(e.root, "s-root")
	e.sessionWithToken(e.alice, "s-alice")
	_, rootToken, err := e.svc.IssueAPIToken(e.ctx, e.principal(e.root), domain.NewAPIToken{Name: "root's", Kind: store.TokenPersonal})
	if err != nil {
		t.Fatal(err)
	}
	rootTok, err := e.svc.AuthenticateAPIToken(e.ctx, rootToken, "")
	if err != nil {
		t.Fatal(err)
	}

	acts := map[string]func(target store.User, session string) error{
		"status": func(u store.User, _ string) error {
			_, err := e.svc.SetUserStatus(e.ctx, mgr, u.ID, store.StatusLocked)
			return err
		},
		"password reset": func(u store.User, _ string) error {
			return e.svc.SetPassword(e.ctx, mgr, u.ID, nil, "another long password 1")
		},
		"profile": func(u store.User, _ string) error {
			_, err := e.svc.UpdateUser(e.ctx, mgr, u.ID, domain.UserPatch{Department: ptr("Elsewhere")})
			return err
		},
		"session revocation": func(_ store.User, session string) error {
			return e.svc.RevokeSession(e.ctx, mgr, session)
		},
		"soft delete": func(u store.User, _ string) error { return e.svc.DeleteUser(e.ctx, mgr, u.ID, false) },
	}
	for name, act := range acts {
		err := act(e.root, "s-root")
		wantErr(t, err, domain.ErrForbidden)
		if err != nil && !strings.Contains(err.Error(), "users:roles") {
			t.Errorf("%s on an admin: %v, want the reason to name users:roles", name, err)
		}
	}
	got, err := e.svc.GetUser(e.ctx, e.root.ID)
	if err != nil || got.Status != store.StatusActive || got.Department != e.root.Department || !e.tokenActive("s-root") {
		t.Fatalf("after the refusals the admin is %+v (session token active %v), want untouched", got, e.tokenActive("s-root"))
	}
	// Ending the admin's own API token is acting on the admin too.
	wantErr(t, e.svc.RevokeAPIToken(e.ctx, mgr, rootTok.APITokenID), domain.ErrForbidden)

	// On a user with less power, every one of them goes through.
	// (A password set by someone else ends the sessions: the revocation goes first.)
	for _, name := range []string{"profile", "session revocation", "password reset", "status", "soft delete"} {
		if err := acts[name](e.alice, "s-alice"); err != nil {
			t.Errorf("%s on a user: %v", name, err)
		}
	}
}

// TestLastAdminStays: the last active admin cannot be demoted, locked,
// disabled or deleted, by anyone (409); with a second admin it can.
func TestLastAdminStays(t *testing.T) {
	e := newEnv(t)
	root := e.user("root", "admin")
	op := domain.Operator(domain.CLIActor())
	refusals := map[string]func() error{
		"demote": func() error { _, err := e.svc.SetUserRoles(e.ctx, op, root.ID, []string{"manager"}); return err },
		"lock":   func() error { _, err := e.svc.SetUserStatus(e.ctx, op, root.ID, store.StatusLocked); return err },
		"disable": func() error {
			_, err := e.svc.SetUserStatus(e.ctx, op, root.ID, store.StatusDisabled)
			return err
		},
		"soft delete": func() error { return e.svc.DeleteUser(e.ctx, op, root.ID, false) },
		"hard delete": func() error { return e.svc.DeleteUser(e.ctx, op, root.ID, true) },
	}
	for name, f := range refusals {
		err := f()
		wantErr(t, err, store.ErrConflict)
		if err != nil && !strings.Contains(err.Error(), "last active admin") {
			t.Errorf("%s: %v, want it to say why", name, err)
		}
	}
	// An admin through a group counts as another admin.
	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "ops", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	other := e.user("other", "user")
	if err := e.svc.AddGroupMember(e.ctx, admin, g.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetUserRoles(e.ctx, op, root.ID, []string{"manager"}); err != nil {
		t.Fatalf("demoting root with another admin present: %v", err)
	}
	// Now other is the last one.
	wantErr(t, e.svc.DeleteUser(e.ctx, op, other.ID, false), store.ErrConflict)
}
