package domain_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestGroupsConferUnderTheGrantRule: a group's roles are its members', so
// adding a member, making a group with a role or giving a group one takes
// what granting the role would: the caller holds each custom permission
// the roles carry, or every built-in one; the operator may always.
func TestGroupsConferUnderTheGrantRule(t *testing.T) {
	e := newEnv(t)
	if _, err := e.svc.CreatePermission(e.ctx, admin, store.Permission{Name: "reports:export"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []store.Role{
		{Name: "reporter", Parent: "viewer", Permissions: []string{"reports:export"}},
		{Name: "groupmgr", Parent: "manager", Permissions: []string{store.PermGroupsWrite}},
		{Name: "groupmgr-reports", Parent: "groupmgr", Permissions: []string{"reports:export"}},
	} {
		if _, err := e.svc.CreateRole(e.ctx, admin, r); err != nil {
			t.Fatal(err)
		}
	}
	g, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "exporters", Roles: []string{"reporter"}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := e.svc.CreateGroup(e.ctx, admin, domain.NewGroup{Name: "readers", Roles: []string{"viewer"}})
	if err != nil {
		t.Fatal(err)
	}
	lacks := e.principal(e.user("lacks", "groupmgr"))
	holds := e.principal(e.user("holds", "groupmgr-reports"))
	root := e.principal(e.user("root", "admin"))
	target := e.user("target", "viewer")
	refused := func(t *testing.T, err error, what string) {
		t.Helper()
		wantErr(t, err, domain.ErrForbidden)
		if !strings.Contains(domain.ErrorMessage(err), "reports:export") {
			t.Errorf("%s: message %q does not name reports:export", what, domain.ErrorMessage(err))
		}
	}

	before := e.lastID()
	refused(t, e.svc.AddGroupMemberBy(e.ctx, lacks, g.ID, target.ID), "add a member")
	refused(t, e.svc.AddGroupMemberBy(e.ctx, lacks, g.ID, lacks.User.ID), "add itself")
	_, err = e.svc.CreateGroupBy(e.ctx, lacks, domain.NewGroup{Name: "mine", Roles: []string{"reporter"}})
	refused(t, err, "create with reporter")
	_, err = e.svc.UpdateGroupBy(e.ctx, lacks, plain.ID, domain.GroupPatch{Roles: &[]string{"viewer", "reporter"}})
	refused(t, err, "give reporter")
	if m, _ := e.store.ListGroupMembers(e.ctx, g.ID); len(m) != 0 {
		t.Fatalf("refused adds left members %v", m)
	}
	if got := e.since(before); len(got) != 0 {
		t.Fatalf("refusals audited: %v", actions(got))
	}

	// Nothing custom conferred: the caller's route is enough.
	if err := e.svc.AddGroupMemberBy(e.ctx, lacks, plain.ID, target.ID); err != nil {
		t.Fatalf("add to readers: %v", err)
	}
	if _, err := e.svc.UpdateGroupBy(e.ctx, lacks, g.ID, domain.GroupPatch{Roles: &[]string{"reporter", "viewer"}}); err != nil {
		t.Fatalf("a role added that carries nothing custom, reporter kept: %v", err)
	}
	for i, p := range []domain.Principal{holds, root, domain.Operator(admin)} {
		u := e.user("member"+strings.Repeat("x", i), "viewer")
		if err := e.svc.AddGroupMemberBy(e.ctx, p, g.ID, u.ID); err != nil {
			t.Fatalf("%s adds a member: %v", p.Actor, err)
		}
		// Again: changes nothing, refused to nobody.
		if err := e.svc.AddGroupMemberBy(e.ctx, lacks, g.ID, u.ID); err != nil {
			t.Fatalf("an existing member added again: %v", err)
		}
	}
	if _, err := e.svc.CreateGroupBy(e.ctx, holds, domain.NewGroup{Name: "theirs", Roles: []string{"reporter"}}); err != nil {
		t.Fatalf("a holder creates a group with reporter: %v", err)
	}
	got, err := e.svc.UpdateGroupBy(e.ctx, root, plain.ID, domain.GroupPatch{Roles: &[]string{"viewer", "reporter"}})
	if err != nil || !slices.Equal(got.Roles, []string{"reporter", "viewer"}) {
		t.Fatalf("an admin gives reporter: %v %v", got.Roles, err)
	}
}
