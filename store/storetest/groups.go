package storetest

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

var groupTests = []subtest{
	{"CreateGet", testGroupCreateGet},
	{"CreateErrors", testGroupCreateErrors},
	{"Update", testGroupUpdate},
	{"DeleteAndList", testGroupDeleteList},
	{"Members", testGroupMembers},
	{"ListUsersByGroup", testListUsersByGroup},
	{"GroupsOfUsers", testGroupsOfUsers},
	{"ConcurrentAddMember", testGroupConcurrentAdd},
	{"NoAliasing", testGroupNoAliasing},
}

func testGroupCreateGet(f *fixture) {
	g := f.newGroup("traders", "viewer", "manager")
	f.must(f.iam.CreateGroup(f.ctx, g), "CreateGroup")
	want := g
	want.Roles = []string{"manager", "viewer"} // a set: sorted by name

	got, err := f.iam.GetGroup(f.ctx, g.ID)
	f.must(err, "GetGroup")
	f.equal("GetGroup", got, want)
	got, err = f.iam.GetGroup(f.ctx, strings.ToUpper(g.ID))
	f.must(err, "GetGroup by uppercase UUID")
	f.equal("GetGroup by uppercase UUID", got, want)

	bare := store.Group{ID: uuid.NewString(), Name: "bare", CreatedAt: f.now, UpdatedAt: f.now}
	f.must(f.iam.CreateGroup(f.ctx, bare), "CreateGroup without description and roles")
	got, err = f.iam.GetGroup(f.ctx, bare.ID)
	f.must(err, "GetGroup")
	f.equal("bare group", got, bare)

	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		_, err := f.iam.GetGroup(f.ctx, id)
		f.wantErr(err, store.ErrNotFound, "GetGroup %q", id)
	}
}

func testGroupCreateErrors(f *fixture) {
	g := f.createGroup("desk", "user")
	cases := []struct {
		name string
		edit func(*store.Group)
		want error
	}{
		{"same id", func(v *store.Group) { v.ID = g.ID }, store.ErrConflict},
		{"same id in capitals", func(v *store.Group) { v.ID = strings.ToUpper(g.ID) }, store.ErrConflict},
		{"same name", func(v *store.Group) { v.Name = g.Name }, store.ErrConflict},
		{"unknown role", func(v *store.Group) { v.Roles = []string{"viewer", "no-such-role"} }, store.ErrNotFound},
	}
	for _, tc := range cases {
		v := f.newGroup("refused " + tc.name)
		tc.edit(&v)
		f.wantErr(f.iam.CreateGroup(f.ctx, v), tc.want, "CreateGroup with %s", tc.name)
		if !strings.EqualFold(v.ID, g.ID) {
			_, err := f.iam.GetGroup(f.ctx, v.ID)
			f.wantErr(err, store.ErrNotFound, "GetGroup of the refused group (%s)", tc.name)
		}
	}
	got, err := f.iam.GetGroup(f.ctx, g.ID)
	f.must(err, "GetGroup")
	f.equal("group after refused duplicates", got, g)

	// Names compare exactly, as role names do.
	f.wantErr(f.iam.CreateGroup(f.ctx, f.newGroup("Desk")), nil, "CreateGroup with a name differing in case")
	list, err := f.iam.ListGroups(f.ctx)
	f.must(err, "ListGroups")
	f.equal("ListGroups names", groupNames(list), []string{"Desk", "desk"})
}

func testGroupUpdate(f *fixture) {
	g := f.createGroup("desk", "viewer")
	other := f.createGroup("ops")
	upd := store.Group{
		ID:          g.ID,
		Name:        "trading desk",
		Description: "The desk that trades.",
		Roles:       []string{"user", "admin"},
		CreatedAt:   f.at(-10000 * time.Hour), // not replaced
		UpdatedAt:   f.now,
	}
	f.must(f.iam.UpdateGroup(f.ctx, upd), "UpdateGroup")
	want := upd
	want.CreatedAt = g.CreatedAt
	want.Roles = []string{"admin", "user"}
	got, err := f.iam.GetGroup(f.ctx, g.ID)
	f.must(err, "GetGroup")
	f.equal("updated group", got, want)

	// Keeping its own name is no conflict; the old name is free again.
	f.wantErr(f.iam.UpdateGroup(f.ctx, upd), nil, "UpdateGroup keeping the name")
	f.createGroup("desk")

	cases := []struct {
		name string
		edit func(*store.Group)
		want error
	}{
		{"name of another", func(v *store.Group) { v.Name = other.Name }, store.ErrConflict},
		{"unknown role", func(v *store.Group) { v.Roles = []string{"admin", "no-such-role"} }, store.ErrNotFound},
		{"unknown id", func(v *store.Group) { v.ID = uuid.NewString() }, store.ErrNotFound},
		{"id that is no UUID", func(v *store.Group) { v.ID = "not-a-uuid" }, store.ErrNotFound},
	}
	for _, tc := range cases {
		v := upd
		v.Description = "Changed by " + tc.name
		tc.edit(&v)
		f.wantErr(f.iam.UpdateGroup(f.ctx, v), tc.want, "UpdateGroup with %s", tc.name)
	}
	for _, w := range []store.Group{want, other} {
		got, err := f.iam.GetGroup(f.ctx, w.ID)
		f.must(err, "GetGroup")
		f.equal("group after refused updates", got, w)
	}

	// An id in capitals names the group; roles are replaced, down to none.
	upd.ID = strings.ToUpper(g.ID)
	upd.Roles = nil
	f.must(f.iam.UpdateGroup(f.ctx, upd), "UpdateGroup without roles, by uppercase UUID")
	got, err = f.iam.GetGroup(f.ctx, g.ID)
	f.must(err, "GetGroup")
	f.equal("roles after removing all", got.Roles, []string{})
}

func testGroupDeleteList(f *fixture) {
	beta := f.createGroup("beta", "viewer")
	f.createGroup("alpha")
	f.createGroup("_x")
	f.createGroup("Alpha")
	u := f.createUser()
	f.must(f.iam.AddGroupMember(f.ctx, beta.ID, u.ID), "AddGroupMember")

	list, err := f.iam.ListGroups(f.ctx)
	f.must(err, "ListGroups")
	// Byte order, as COLLATE "C" sorts.
	f.equal("ListGroups order", groupNames(list), []string{"Alpha", "_x", "alpha", "beta"})
	if len(list) == 4 {
		f.equal("listed group", list[3], beta)
	}

	f.must(f.iam.DeleteGroup(f.ctx, beta.ID), "DeleteGroup")
	_, err = f.iam.GetGroup(f.ctx, beta.ID)
	f.wantErr(err, store.ErrNotFound, "GetGroup after delete")
	f.wantErr(f.iam.DeleteGroup(f.ctx, beta.ID), store.ErrNotFound, "DeleteGroup twice")
	f.wantErr(f.iam.DeleteGroup(f.ctx, "not-a-uuid"), store.ErrNotFound, "DeleteGroup with an id that is no UUID")

	// Its memberships went with it; its member did not.
	members, err := f.iam.ListGroupMembers(f.ctx, beta.ID)
	f.must(err, "ListGroupMembers of a deleted group")
	if len(members) != 0 {
		f.t.Errorf("members of a deleted group: %q", members)
	}
	groups, err := f.iam.ListUserGroups(f.ctx, u.ID)
	f.must(err, "ListUserGroups")
	if len(groups) != 0 {
		f.t.Errorf("ListUserGroups after the group was deleted: %q", groupNames(groups))
	}
	_, err = f.s.GetUser(f.ctx, u.ID)
	f.wantErr(err, nil, "GetUser of a deleted group's member")

	list, err = f.iam.ListGroups(f.ctx)
	f.must(err, "ListGroups")
	f.equal("ListGroups after delete", groupNames(list), []string{"Alpha", "_x", "alpha"})
	// The name is free again.
	f.createGroup("beta")
}

func testGroupMembers(f *fixture) {
	g := f.createGroup("gamma", "viewer")
	h := f.createGroup("eta")
	a, b, c := f.createUser(), f.createUser(), f.createUser()

	f.must(f.iam.AddGroupMember(f.ctx, g.ID, a.ID), "AddGroupMember a")
	f.must(f.iam.AddGroupMember(f.ctx, strings.ToUpper(g.ID), strings.ToUpper(b.ID)), "AddGroupMember b by uppercase UUIDs")
	f.wantErr(f.iam.AddGroupMember(f.ctx, g.ID, a.ID), nil, "AddGroupMember of a member")
	f.must(f.iam.AddGroupMember(f.ctx, h.ID, a.ID), "AddGroupMember a to h")

	errCases := []struct{ name, group, user string }{
		{"unknown group", uuid.NewString(), a.ID},
		{"unknown user", g.ID, uuid.NewString()},
		{"group id that is no UUID", "not-a-uuid", a.ID},
		{"user id that is no UUID", g.ID, "not-a-uuid"},
	}
	for _, tc := range errCases {
		f.wantErr(f.iam.AddGroupMember(f.ctx, tc.group, tc.user), store.ErrNotFound, "AddGroupMember with %s", tc.name)
	}

	members, err := f.iam.ListGroupMembers(f.ctx, g.ID)
	f.must(err, "ListGroupMembers")
	f.equal("members of g", members, sortedStrings([]string{a.ID, b.ID}))
	members, err = f.iam.ListGroupMembers(f.ctx, strings.ToUpper(h.ID))
	f.must(err, "ListGroupMembers by uppercase UUID")
	f.equal("members of h", members, []string{a.ID})

	groups, err := f.iam.ListUserGroups(f.ctx, a.ID)
	f.must(err, "ListUserGroups")
	f.equal("groups of a", groupNames(groups), []string{"eta", "gamma"})
	if len(groups) == 2 {
		want := g
		f.equal("group of a", groups[1], want)
	}
	groups, err = f.iam.ListUserGroups(f.ctx, strings.ToUpper(b.ID))
	f.must(err, "ListUserGroups by uppercase UUID")
	f.equal("groups of b", groupNames(groups), []string{"gamma"})

	// Lists for what has nothing, or does not exist, are empty.
	for _, id := range []string{c.ID, uuid.NewString(), "not-a-uuid"} {
		groups, err := f.iam.ListUserGroups(f.ctx, id)
		f.must(err, "ListUserGroups %q", id)
		if len(groups) != 0 {
			f.t.Errorf("ListUserGroups %q = %q, want none", id, groupNames(groups))
		}
	}
	for _, id := range []string{f.createGroup("empty").ID, uuid.NewString(), "not-a-uuid"} {
		members, err := f.iam.ListGroupMembers(f.ctx, id)
		f.must(err, "ListGroupMembers %q", id)
		if len(members) != 0 {
			f.t.Errorf("ListGroupMembers %q = %q, want none", id, members)
		}
	}

	f.must(f.iam.RemoveGroupMember(f.ctx, g.ID, b.ID), "RemoveGroupMember b")
	removeCases := []struct{ name, group, user string }{
		{"a member removed already", g.ID, b.ID},
		{"a user who never was a member", g.ID, c.ID},
		{"an unknown group", uuid.NewString(), a.ID},
		{"ids that are no UUIDs", "not-a-uuid", "not-a-uuid"},
	}
	for _, tc := range removeCases {
		f.wantErr(f.iam.RemoveGroupMember(f.ctx, tc.group, tc.user), store.ErrNotFound, "RemoveGroupMember of %s", tc.name)
	}
	f.must(f.iam.RemoveGroupMember(f.ctx, strings.ToUpper(h.ID), strings.ToUpper(a.ID)), "RemoveGroupMember by uppercase UUIDs")
	members, err = f.iam.ListGroupMembers(f.ctx, g.ID)
	f.must(err, "ListGroupMembers")
	f.equal("members of g after removals", members, []string{a.ID})
	groups, err = f.iam.ListUserGroups(f.ctx, a.ID)
	f.must(err, "ListUserGroups")
	f.equal("groups of a after removals", groupNames(groups), []string{"gamma"})
}

func testListUsersByGroup(f *fixture) {
	mk := func(username string, status store.UserStatus, roles ...string) store.User {
		u := f.newUser()
		u.Username, u.Email, u.Status, u.Roles = username, username+"@example.com", status, roles
		f.must(f.s.CreateUser(f.ctx, u), "CreateUser %s", username)
		return u
	}
	alice := mk("alice", store.StatusActive, "admin")
	bob := mk("bob", store.StatusPending)
	carol := mk("carol", store.StatusActive, "viewer")
	dave := mk("dave", store.StatusLocked, "viewer")
	g := f.createGroup("g")
	h := f.createGroup("h")
	empty := f.createGroup("empty")
	for _, u := range []store.User{alice, carol, dave} {
		f.must(f.iam.AddGroupMember(f.ctx, g.ID, u.ID), "AddGroupMember %s", u.Username)
	}
	f.must(f.iam.AddGroupMember(f.ctx, h.ID, bob.ID), "AddGroupMember bob")
	f.must(f.iam.AddGroupMember(f.ctx, h.ID, carol.ID), "AddGroupMember carol")

	cases := []struct {
		name   string
		filter store.UserFilter
		want   []string
	}{
		{"group", store.UserFilter{Group: g.ID}, []string{"alice", "carol", "dave"}},
		{"other group", store.UserFilter{Group: h.ID}, []string{"bob", "carol"}},
		{"group by uppercase UUID", store.UserFilter{Group: strings.ToUpper(h.ID)}, []string{"bob", "carol"}},
		{"group without members", store.UserFilter{Group: empty.ID}, nil},
		{"unknown group", store.UserFilter{Group: uuid.NewString()}, nil},
		{"group id that is no UUID", store.UserFilter{Group: "not-a-uuid"}, nil},
		{"group and status", store.UserFilter{Group: g.ID, Status: store.StatusActive}, []string{"alice", "carol"}},
		{"group and role", store.UserFilter{Group: g.ID, Role: "viewer"}, []string{"carol", "dave"}},
		{"group and query", store.UserFilter{Group: h.ID, Query: "CAR"}, []string{"carol"}},
		{"group and after", store.UserFilter{Group: g.ID, After: afterName("alice")}, []string{"carol", "dave"}},
		{"group and limit", store.UserFilter{Group: g.ID, Limit: 2}, []string{"alice", "carol"}},
		{"group, role, after and limit", store.UserFilter{Group: g.ID, Role: "viewer", After: afterName("a"), Limit: 1}, []string{"carol"}},
	}
	for _, tc := range cases {
		got, err := f.s.ListUsers(f.ctx, tc.filter)
		if err != nil {
			f.t.Errorf("ListUsers %s: %v", tc.name, err)
			continue
		}
		f.equal("ListUsers "+tc.name, usernames(got), tc.want)
	}
	// A user in two groups is listed once.
	got, err := f.s.ListUsers(f.ctx, store.UserFilter{})
	f.must(err, "ListUsers")
	f.equal("ListUsers without group", usernames(got), []string{"alice", "bob", "carol", "dave"})
}

// AddGroupMember is idempotent under concurrency too: racing inserts of one
// membership all succeed and leave one row.
func testGroupConcurrentAdd(f *fixture) {
	g := f.createGroup("racers")
	u := f.createUser()
	errs := f.concurrently(10, func(ctx context.Context, _ int) error {
		return f.iam.AddGroupMember(ctx, g.ID, u.ID)
	})
	for i, err := range errs {
		if err != nil {
			f.t.Errorf("AddGroupMember in goroutine %d: %v", i, err)
		}
	}
	members, err := f.iam.ListGroupMembers(f.ctx, g.ID)
	f.must(err, "ListGroupMembers")
	f.equal("members after concurrent adds", members, []string{u.ID})
}

func testGroupNoAliasing(f *fixture) {
	g := f.newGroup("alias", "manager", "viewer")
	want := g
	want.Roles = []string{"manager", "viewer"}
	f.must(f.iam.CreateGroup(f.ctx, g), "CreateGroup")
	g.Roles[0] = "admin"

	got, err := f.iam.GetGroup(f.ctx, g.ID)
	f.must(err, "GetGroup")
	f.equal("group after changing the input", got, want)
	got.Roles[0] = "admin"
	list, err := f.iam.ListGroups(f.ctx)
	f.must(err, "ListGroups")
	if len(list) != 1 {
		f.t.Fatalf("ListGroups returned %d groups, want 1", len(list))
	}
	f.equal("group after changing a copy read out", list[0], want)
}

func testGroupsOfUsers(f *fixture) {
	desk, ops := f.createGroup("desk", "viewer"), f.createGroup("Ops", "user", "manager")
	a, b, c := f.createUser(), f.createUser(), f.createUser()
	f.must(f.iam.AddGroupMember(f.ctx, desk.ID, a.ID), "AddGroupMember")
	f.must(f.iam.AddGroupMember(f.ctx, ops.ID, a.ID), "AddGroupMember")
	f.must(f.iam.AddGroupMember(f.ctx, ops.ID, b.ID), "AddGroupMember")
	desk, err := f.iam.GetGroup(f.ctx, desk.ID)
	f.must(err, "GetGroup")
	ops, err = f.iam.GetGroup(f.ctx, ops.ID)
	f.must(err, "GetGroup")

	got, err := f.iam.GroupsOfUsers(f.ctx, []string{a.ID, strings.ToUpper(b.ID), c.ID, "not-a-uuid", uuid.NewString()})
	f.must(err, "GroupsOfUsers")
	// Byte order: "Ops" before "desk"; ids come back canonical; c, the
	// malformed id and the unknown one are absent. Each group carries its
	// roles, which is what a page of users needs for effective roles.
	f.equal("GroupsOfUsers", got, map[string][]store.Group{a.ID: {ops, desk}, b.ID: {ops}})

	got, err = f.iam.GroupsOfUsers(f.ctx, nil)
	f.must(err, "GroupsOfUsers of no users")
	if len(got) != 0 {
		f.t.Errorf("GroupsOfUsers(nil) = %v, want empty", got)
	}
}
