package main

import (
	"context"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
)

// TestAreas drives gatehouse areas against a real database: the tree,
// a subtree move, membership, the default area and roles granted within
// an area, each audited; refusals say why and change nothing.
func TestAreas(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var alice admin.UserView
	e.ok(&alice, "users", "create", "--username", "alice", "--email", "alice@example.com",
		"--password", "correct horse battery", "--role", "user")

	var emea, de admin.AreaView
	e.audited(st, "area.create", nil, &emea, "areas", "create", "--code", "emea", "--name", "EMEA")
	if emea.Code != "emea" || emea.Parent != nil {
		t.Fatalf("areas create printed %+v", emea)
	}
	e.audited(st, "area.create", nil, &de, "areas", "create", "--code", "emea-de", "--name", "Germany", "--parent", "emea")
	if de.Parent == nil || *de.Parent != "emea" {
		t.Fatalf("areas create --parent printed %+v", de)
	}
	e.ok(nil, "areas", "create", "--code", "europe", "--name", "Europe")

	var list []admin.AreaView
	e.ok(&list, "areas", "list")
	if len(list) != 3 || list[0].Code != "emea" || list[1].Code != "emea-de" || list[2].Code != "europe" {
		t.Fatalf("areas list = %+v", list)
	}

	// A cycle is refused, naming parent, and audits nothing.
	e.unaudited(st, []string{"areas move", "parent", "cycle"}, "areas", "move", "emea", "--parent", "emea-de")
	e.fails([]string{"exactly one of --parent and --root"}, "areas", "move", "emea")

	var moved admin.AreaView
	e.audited(st, "area.move", nil, &moved, "areas", "move", "emea", "--parent", "europe")
	if moved.Parent == nil || *moved.Parent != "europe" {
		t.Fatalf("areas move printed %+v", moved)
	}
	e.ok(&list, "areas", "list", "--under", "europe")
	var codes []string
	for _, a := range list {
		codes = append(codes, a.Code)
	}
	if !slices.Equal(codes, []string{"emea", "emea-de", "europe"}) {
		t.Fatalf("europe's subtree after the move: %v", codes)
	}

	var u admin.UserView
	e.audited(st, "area.member.add", nil, &u, "areas", "add-member", "emea-de", "alice")
	if !slices.Equal(u.Areas, []string{"emea-de"}) || u.DefaultArea != nil {
		t.Fatalf("add-member printed areas %v default %v", u.Areas, u.DefaultArea)
	}
	var users []admin.UserView
	e.ok(&users, "users", "list", "--area", "europe")
	if usernames(users) != "alice" {
		t.Fatalf("users list --area europe = %s, want alice (a member below it)", usernames(users))
	}
	e.fails([]string{"users list", `area "nowhere" not found`}, "users", "list", "--area", "nowhere")
	e.unaudited(st, []string{"default_area"}, "areas", "set-default", "alice", "europe")
	e.audited(st, "user.default_area", nil, &u, "areas", "set-default", "alice", "emea-de")
	if u.DefaultArea == nil || *u.DefaultArea != "emea-de" {
		t.Fatalf("set-default printed %v", u.DefaultArea)
	}

	var grants struct {
		UserID    string `json:"user_id"`
		AreaRoles []struct {
			Area string `json:"area"`
			Role string `json:"role"`
		} `json:"area_roles"`
	}
	e.audited(st, "area.role.grant", nil, &grants, "areas", "grant-role", "alice", "emea", "manager")
	if grants.UserID != alice.ID || len(grants.AreaRoles) != 1 || grants.AreaRoles[0].Area != "emea" || grants.AreaRoles[0].Role != "manager" {
		t.Fatalf("grant-role printed %+v", grants)
	}
	stored, err := st.ListAreaRoleGrants(ctx, alice.ID)
	if err != nil || len(stored) != 1 || stored[0].Role != "manager" {
		t.Fatalf("stored grants %+v, %v", stored, err)
	}

	// Deleting an area in use is refused; emptied, it goes.
	e.unaudited(st, []string{"areas delete", "child areas, members or role grants"}, "areas", "delete", "emea-de")
	e.audited(st, "area.role.revoke", nil, nil, "areas", "revoke-role", "alice", "emea", "manager")
	e.audited(st, "area.member.remove", nil, nil, "areas", "remove-member", "emea-de", "alice")
	e.audited(st, "area.delete", nil, nil, "areas", "delete", "emea-de")
	if _, err := st.GetAreaByCode(ctx, "emea-de"); err == nil {
		t.Fatal("emea-de is still stored after areas delete")
	}
	e.fails([]string{"areas get", `area "emea-de" not found`}, "areas", "get", "emea-de")
	e.fails([]string{"areas create", "code"}, "areas", "create", "--code", "Not A Slug", "--name", "x")
}
