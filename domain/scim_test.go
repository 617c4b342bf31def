package domain_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestGroupMembersAs: a member of a group gets its roles, so a principal
// adds, removes or deletes only within its own power; the operator may do
// all of it.
func TestGroupMembersAs(t *testing.T) {
	e := newEnv(t)
	target := e.user("tgt")
	manager := e.principal(e.user("mgr", "manager"))
	adminP := e.principal(e.user("adm", "admin"))
	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "admins", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	err = e.svc.AddGroupMemberAs(e.ctx, manager, g.ID, target.ID)
	wantErr(t, err, domain.ErrForbidden)
	if !strings.Contains(domain.ErrorMessage(err), "users:roles") {
		t.Errorf("message %q does not name a missing permission", domain.ErrorMessage(err))
	}
	wantErr(t, e.svc.DeleteGroupAs(e.ctx, manager, g.ID), domain.ErrForbidden)
	if m, _ := e.store.ListGroupMembers(e.ctx, g.ID); len(m) != 0 {
		t.Fatalf("a refused add left members %v", m)
	}
	before := e.lastID()
	if err := e.svc.AddGroupMemberAs(e.ctx, adminP, g.ID, target.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.RemoveGroupMemberAs(e.ctx, manager, g.ID, target.ID), domain.ErrForbidden)
	if err := e.svc.RemoveGroupMemberAs(e.ctx, domain.Operator(admin), g.ID, target.ID); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range e.since(before) {
		actions = append(actions, a.Action)
	}
	if !slices.Equal(actions, []string{"group.member.add", "group.member.remove"}) {
		t.Errorf("audit actions %v", actions)
	}
	if err := e.svc.DeleteGroupAs(e.ctx, adminP, g.ID); err != nil {
		t.Fatal(err)
	}
}

// TestExternalID: validated, stored, audited and cleared through
// CreateUser and UpdateUser.
func TestExternalID(t *testing.T) {
	e := newEnv(t)
	u, err := e.svc.CreateUser(e.ctx, admin, domain.NewUser{Username: "ext", Email: "ext@example.com", ExternalID: " 00u1 "})
	if err != nil || u.ExternalID != "00u1" {
		t.Fatalf("CreateUser = %+v, %v", u, err)
	}
	for _, bad := range []string{strings.Repeat("x", domain.MaxExternalIDLength+1), "a\nb"} {
		_, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{ExternalID: &bad})
		if f := fieldsOf(t, err); !slices.Equal(f, []string{"external_id"}) {
			t.Errorf("external id %.20q: fields %v", bad, f)
		}
	}
	before := e.lastID()
	none := ""
	if u, err = e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{ExternalID: &none}); err != nil || u.ExternalID != "" {
		t.Fatalf("clearing: %+v, %v", u, err)
	}
	entries := e.since(before)
	if len(entries) != 1 || !strings.Contains(string(entries[0].Changes), `"external_id":{"before":"00u1","after":""}`) {
		t.Errorf("audit %+v", entries)
	}
}

// TestAtomically: a failure after a change undoes the change and its audit
// entry.
func TestAtomically(t *testing.T) {
	e := newEnv(t)
	before := e.lastID()
	boom := errors.New("boom")
	err := e.svc.Atomically(e.ctx, func(ctx context.Context) error {
		if _, err := e.svc.CreateUser(ctx, admin, domain.NewUser{Username: "gone", Email: "gone@example.com"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Atomically = %v", err)
	}
	if _, err := e.store.GetUserByUsername(e.ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the user of a failed transaction exists: %v", err)
	}
	if got := e.since(before); len(got) != 0 {
		t.Errorf("audit entries of a failed transaction: %+v", got)
	}
}
