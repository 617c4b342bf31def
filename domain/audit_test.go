package domain_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// Every mutation leaves exactly one audit entry, with its actor, action
// and target, and no entry anywhere holds a password, hash or secret.
func TestEveryMutationIsAuditedOnce(t *testing.T) {
	e := newEnv(t)
	actor := domain.Actor{Type: store.ActorUser, ID: "11111111-1111-1111-1111-111111111111", IP: "203.0.113.1"}
	cli := domain.CLIActor()
	root := e.principal(e.user("root", "admin"))
	root.Actor.IP = "203.0.113.2"

	// What must never appear in the log.
	var secrets []string
	addSecret := func(s ...string) { secrets = append(secrets, s...) }
	addDigest := func(d []byte) {
		addSecret(hex.EncodeToString(d), base64.StdEncoding.EncodeToString(d), base64.RawURLEncoding.EncodeToString(d))
	}
	const newPassword = "a whole new passphrase"
	addSecret(goodPassword, newPassword)

	var (
		u        store.User
		g        store.Group
		req      store.AccessRequest
		tok      store.APIToken
		tokenSec string
	)
	steps := []struct {
		action string
		actor  domain.Actor
		target func() string
		run    func() error
	}{
		{"user.create", actor, func() string { return u.ID }, func() (err error) {
			u, err = e.svc.CreateUser(e.ctx, actor, domain.NewUser{Username: "alice", Email: "alice@example.com", Password: goodPassword})
			addSecret(u.PasswordHash)
			return err
		}},
		{"user.update", cli, func() string { return u.ID }, func() error {
			_, err := e.svc.UpdateUser(e.ctx, domain.Operator(cli), u.ID, domain.UserPatch{Department: ptr("Sales")})
			return err
		}},
		{"user.password", actor, func() string { return u.ID }, func() error {
			err := e.svc.SetPassword(e.ctx, domain.Operator(actor), u.ID, nil, newPassword)
			cur, _ := e.svc.GetUser(e.ctx, u.ID)
			addSecret(cur.PasswordHash)
			return err
		}},
		{"access_request.create", actor, func() string { return req.ID }, func() (err error) {
			req, err = e.svc.SubmitAccessRequest(e.ctx, actor, u.ID, "user", "to work")
			return err
		}},
		{"access_request.approve", root.Actor, func() string { return req.ID }, func() error {
			_, err := e.svc.ApproveAccessRequest(e.ctx, root, req.ID, "", "ok")
			return err
		}},
		{"user.roles", actor, func() string { return u.ID }, func() error {
			_, err := e.svc.SetUserRoles(e.ctx, domain.Operator(actor), u.ID, []string{"user", "viewer"})
			return err
		}},
		{"user.status", actor, func() string { return u.ID }, func() error {
			_, err := e.svc.SetUserStatus(e.ctx, domain.Operator(actor), u.ID, store.StatusLocked)
			return err
		}},
		{"user.status", actor, func() string { return u.ID }, func() error {
			_, err := e.svc.SetUserStatus(e.ctx, domain.Operator(actor), u.ID, store.StatusActive)
			return err
		}},
		{"role.create", actor, func() string { return "trader" }, func() error {
			_, err := e.svc.CreateRole(e.ctx, actor, store.Role{Name: "trader", Parent: "user"})
			return err
		}},
		{"role.update", actor, func() string { return "trader" }, func() error {
			_, err := e.svc.UpdateRole(e.ctx, actor, "trader", domain.RolePatch{Description: ptr("Trades")})
			return err
		}},
		{"group.create", actor, func() string { return g.ID }, func() (err error) {
			g, err = e.svc.CreateGroup(e.ctx, actor, domain.NewGroup{Name: "desk", Roles: []string{"trader"}})
			return err
		}},
		{"group.update", actor, func() string { return g.ID }, func() error {
			_, err := e.svc.UpdateGroup(e.ctx, actor, g.ID, domain.GroupPatch{Description: ptr("The desk")})
			return err
		}},
		{"group.member.add", actor, func() string { return g.ID }, func() error {
			return e.svc.AddGroupMember(e.ctx, actor, g.ID, u.ID)
		}},
		{"group.member.remove", actor, func() string { return g.ID }, func() error {
			return e.svc.RemoveGroupMember(e.ctx, actor, g.ID, u.ID)
		}},
		{"group.delete", actor, func() string { return g.ID }, func() error {
			return e.svc.DeleteGroup(e.ctx, actor, g.ID)
		}},
		{"role.delete", actor, func() string { return "trader" }, func() error {
			return e.svc.DeleteRole(e.ctx, actor, "trader")
		}},
		{"client.create", actor, func() string { return "svc" }, func() error {
			c, secret, err := e.svc.CreateClient(e.ctx, actor, store.Client{ID: "svc", TokenEndpointAuthMethod: domain.AuthClientSecretBasic,
				GrantTypes: []string{domain.GrantClientCredentials}, Roles: []string{"manager"}})
			addSecret(secret)
			addDigest(c.SecretHash)
			return err
		}},
		{"client.update", actor, func() string { return "svc" }, func() error {
			_, err := e.svc.UpdateClient(e.ctx, actor, "svc", domain.ClientPatch{Name: ptr("Service")})
			return err
		}},
		{"token.create", root.Actor, func() string { return tok.ID }, func() (err error) {
			tok, tokenSec, err = e.svc.IssueAPIToken(e.ctx, root, domain.NewAPIToken{Name: "ci", Kind: store.TokenSystem, ClientID: "svc"})
			addSecret(tokenSec)
			stored, _ := e.store.GetAPIToken(e.ctx, tok.ID)
			addDigest(stored.SecretHash)
			return err
		}},
		{"token.revoke", root.Actor, func() string { return tok.ID }, func() error {
			return e.svc.RevokeAPIToken(e.ctx, root, tok.ID)
		}},
		{"client.delete", actor, func() string { return "svc" }, func() error {
			return e.svc.DeleteClient(e.ctx, actor, "svc")
		}},
		{"session.revoke", actor, func() string { return "sess-1" }, func() error {
			e.sessionWithToken(u, "sess-1")
			return e.svc.RevokeSession(e.ctx, domain.Operator(actor), "sess-1")
		}},
		{"user.disable", actor, func() string { return u.ID }, func() error {
			return e.svc.DeleteUser(e.ctx, domain.Operator(actor), u.ID, false)
		}},
		{"user.delete", actor, func() string { return u.ID }, func() error {
			return e.svc.DeleteUser(e.ctx, domain.Operator(actor), u.ID, true)
		}},
	}
	for i, st := range steps {
		before := e.lastID()
		if err := st.run(); err != nil {
			t.Fatalf("step %d %s: %v", i, st.action, err)
		}
		entries := e.since(before)
		if len(entries) != 1 {
			t.Fatalf("step %d %s: %d entries, want 1: %+v", i, st.action, len(entries), entries)
		}
		a := entries[0]
		if a.Action != st.action || a.ActorType != st.actor.Type || a.ActorID != st.actor.ID || a.IPAddress != st.actor.IP ||
			a.TargetID != st.target() || !a.At.Equal(e.clock.Now()) {
			t.Errorf("step %d: entry = %+v, want %s by %+v on %s", i, a, st.action, st.actor, st.target())
		}
	}
	for _, a := range e.audit() {
		if containsAny(string(a.Changes), secrets...) {
			t.Errorf("%s records a secret: %s", a.Action, a.Changes)
		}
	}
}

func TestRecord(t *testing.T) {
	e := newEnv(t)
	err := e.svc.Record(e.ctx, store.AuditEntry{ActorType: store.ActorUser, ActorID: "u1", Action: "logout", TargetType: "user", TargetID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	entries := e.audit()
	if len(entries) != 1 || entries[0].Action != "logout" || !entries[0].At.Equal(e.clock.Now()) {
		t.Fatalf("entries = %+v", entries)
	}
	if err := e.svc.Record(e.ctx, store.AuditEntry{Action: "logout"}); err == nil {
		t.Fatal("an entry without an actor was recorded")
	}
	if err := e.svc.Record(e.ctx, store.AuditEntry{ActorType: store.ActorSystem, Action: "x", Changes: []byte("{")}); err == nil {
		t.Fatal("an entry with broken changes was recorded")
	}
}

// failingAudit refuses every audit entry.
type failingAudit struct{ *memory.Store }

func (failingAudit) AppendAudit(context.Context, store.AuditEntry) (int64, error) {
	return 0, errors.New("audit log unavailable")
}

// A write whose audit entry cannot be written does not happen.
func TestMutationWithoutAuditEntryIsUndone(t *testing.T) {
	e := newEnv(t)
	svc := domain.NewService(failingAudit{e.store}, domain.Options{Passwords: e.svc.Passwords(), Now: e.clock.Now})
	if _, err := svc.CreateUser(e.ctx, admin, domain.NewUser{Username: "alice", Email: "alice@example.com"}); err == nil {
		t.Fatal("create succeeded without its audit entry")
	}
	if _, err := svc.CreateRole(e.ctx, admin, store.Role{Name: "trader"}); err == nil {
		t.Fatal("create role succeeded without its audit entry")
	}
	if users, _ := e.svc.ListUsers(e.ctx, store.UserFilter{}); len(users) != 0 {
		t.Fatalf("%d users stored", len(users))
	}
	if _, err := e.svc.GetRole(e.ctx, "trader"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("role stored: %v", err)
	}

	// An actor without a type is refused the same way.
	if _, err := e.svc.CreateUser(e.ctx, domain.Actor{}, domain.NewUser{Username: "alice", Email: "alice@example.com"}); err == nil {
		t.Fatal("create succeeded with an anonymous-by-mistake actor")
	}
	if users, _ := e.svc.ListUsers(e.ctx, store.UserFilter{}); len(users) != 0 {
		t.Fatalf("%d users stored", len(users))
	}
}

func TestListAuditCapsTheLimit(t *testing.T) {
	e := newEnv(t)
	for range 250 {
		if err := e.svc.Record(e.ctx, store.AuditEntry{ActorType: store.ActorSystem, Action: "tick"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.svc.ListAudit(e.ctx, store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 200 {
		t.Fatalf("%d entries, want the cap of 200", len(got))
	}
}
