package main

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/store"
)

func TestGroups(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var alice admin.UserView
	e.ok(&alice, "users", "create", "--username", "alice", "--email", "alice@example.com",
		"--password", "correct horse battery", "--role", "viewer")

	var desk admin.GroupView
	entry := e.audited(st, "group.create", nil, &desk, "groups", "create", "--name", "trading-desk",
		"--description", "Equities desk", "--role", "user")
	if desk.ID == "" || desk.Name != "trading-desk" || desk.Description != "Equities desk" ||
		!slices.Equal(desk.Roles, []string{"user"}) || len(desk.Members) != 0 {
		t.Fatalf("groups create printed %+v", desk)
	}
	if entry.TargetID != desk.ID {
		t.Errorf("group.create audit target %q, want %q", entry.TargetID, desk.ID)
	}
	e.ok(nil, "groups", "create", "--name", "auditors")

	var list []admin.GroupView
	e.ok(&list, "groups", "list")
	if len(list) != 2 || list[0].Name != "auditors" || list[1].Name != "trading-desk" {
		t.Fatalf("groups list = %+v, want auditors then trading-desk", list)
	}

	var withAlice admin.GroupView
	e.audited(st, "group.member.add", nil, &withAlice, "groups", "add-member", "trading-desk", "alice")
	if !slices.Equal(withAlice.Members, []string{alice.ID}) {
		t.Fatalf("add-member printed members %v, want alice's id", withAlice.Members)
	}
	members, err := iamOf(t, st).ListGroupMembers(ctx, desk.ID)
	if err != nil || !slices.Equal(members, []string{alice.ID}) {
		t.Fatalf("stored members %v, %v", members, err)
	}

	// get by name and by id; users list --group finds the member.
	var got admin.GroupView
	e.ok(&got, "groups", "get", "trading-desk")
	if got.ID != desk.ID || !slices.Equal(got.Members, []string{alice.ID}) {
		t.Fatalf("groups get trading-desk = %+v", got)
	}
	e.ok(&got, "groups", "get", desk.ID)
	if got.Name != "trading-desk" {
		t.Fatalf("groups get %s = %+v", desk.ID, got)
	}
	var users []admin.UserView
	e.ok(&users, "users", "list", "--group", "trading-desk")
	if usernames(users) != "alice" {
		t.Fatalf("users list --group trading-desk = %s, want alice", usernames(users))
	}
	e.ok(&users, "users", "list", "--group", "auditors")
	if len(users) != 0 {
		t.Fatalf("users list --group auditors = %s, want nobody", usernames(users))
	}

	var without admin.GroupView
	e.audited(st, "group.member.remove", nil, &without, "groups", "remove-member", desk.ID, alice.ID)
	if without.ID != desk.ID || len(without.Members) != 0 {
		t.Fatalf("remove-member printed %+v, want the group without members", without)
	}

	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"duplicate name", []string{"create", "--name", "trading-desk"}, []string{`group named "trading-desk" already exists`}},
		{"unknown role", []string{"create", "--name", "wizards", "--role", "wizard"}, []string{"role"}},
		{"missing name", []string{"create"}, []string{"name"}},
		{"get unknown", []string{"get", "nowhere"}, []string{`group "nowhere" not found`}},
		{"add to unknown group", []string{"add-member", "nowhere", "alice"}, []string{`group "nowhere" not found`}},
		{"add unknown user", []string{"add-member", "trading-desk", "nobody"}, []string{`user "nobody" not found`}},
		{"remove a non-member", []string{"remove-member", "trading-desk", "alice"}, []string{"is not a member of group"}},
		{"delete unknown", []string{"delete", "nowhere"}, []string{`group "nowhere" not found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sub(t).unaudited(st, tt.stderr, append([]string{"groups"}, tt.args...)...)
		})
	}

	e.ok(nil, "groups", "add-member", "trading-desk", "alice")
	e.audited(st, "group.delete", nil, nil, "groups", "delete", "trading-desk")
	if _, err := iamOf(t, st).GetGroup(ctx, desk.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetGroup after groups delete: %v, want ErrNotFound", err)
	}
	if gs, err := iamOf(t, st).ListUserGroups(ctx, alice.ID); err != nil || len(gs) != 0 {
		t.Fatalf("alice's groups after the delete: %+v, %v", gs, err)
	}
}
