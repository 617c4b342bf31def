package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
)

// TestClientsAccessRule: clients create takes the rule's roles, groups and
// areas; clients update replaces each list given, keeps the others, and
// --clear-access removes the rule; an unknown area is refused naming
// access.areas, and every change is audited.
func TestClientsAccessRule(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	e.ok(nil, "areas", "create", "--code", "emea", "--name", "EMEA")
	e.ok(nil, "areas", "create", "--code", "emea-ch", "--name", "Switzerland", "--parent", "emea")

	var created admin.ClientView
	e.audited(st, "client.create", nil, &created, "clients", "create", "--id", "desk",
		"--redirect-uri", "https://desk.example/cb", "--access-role", "manager", "--access-area", "emea")
	if !slices.Equal(created.Access.Roles, []string{"manager"}) || !slices.Equal(created.Access.Areas, []string{"emea"}) || len(created.Access.Groups) != 0 {
		t.Fatalf("clients create printed access %+v", created.Access)
	}
	e.fails([]string{"access.areas"}, "clients", "create", "--id", "bad",
		"--redirect-uri", "https://bad.example/cb", "--access-area", "atlantis")
	e.fails([]string{"access.areas"}, "clients", "update", "desk", "--access-area", "atlantis")

	var updated admin.ClientView
	entry := e.audited(st, "client.update", nil, &updated, "clients", "update", "desk", "--access-area", "emea-ch", "--access-area", "emea")
	if !slices.Equal(updated.Access.Roles, []string{"manager"}) || !slices.Equal(updated.Access.Areas, []string{"emea", "emea-ch"}) {
		t.Fatalf("clients update printed access %+v, want the roles kept and the areas replaced", updated.Access)
	}
	if !strings.Contains(string(entry.Changes), `"access_areas"`) {
		t.Fatalf("audit changes %v, want access_areas", entry.Changes)
	}
	e.ok(&updated, "clients", "update", "desk", "--access-role", "")
	if len(updated.Access.Roles) != 0 || len(updated.Access.Areas) != 2 {
		t.Fatalf("--access-role \"\" left %+v", updated.Access)
	}
	e.ok(&updated, "clients", "update", "desk", "--clear-access")
	stored, err := st.GetClient(ctx, "desk")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Access.Restricted() || updated.Access.Areas == nil || len(updated.Access.Areas) != 0 {
		t.Fatalf("after --clear-access stored %+v, printed %+v", stored.Access, updated.Access)
	}
	e.fails([]string{"clear-access"}, "clients", "update", "desk", "--clear-access", "--access-role", "manager")
}
