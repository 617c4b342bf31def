package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

// grantOf finds role among the printed grants.
func grantOf(grants []admin.RoleGrantView, role string) (admin.RoleGrantView, bool) {
	for _, g := range grants {
		if g.Role == role {
			return g, true
		}
	}
	return admin.RoleGrantView{}, false
}

// TestUsersGrantRole: a role granted for 7d or until an instant is stored
// with that expiry, printed in role_grants and by `users grants`, audited
// as user.roles by the CLI; the other roles keep theirs; a bad expiry is
// refused naming the flag and changes nothing.
func TestUsersGrantRole(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	e.ok(nil, "roles", "create", "--name", "trader", "--parent", "user")
	e.ok(nil, "users", "create", "--username", "alice", "--email", "alice@example.com", "--password", "correct horse battery", "--role", "viewer")

	before := time.Now()
	var u admin.UserView
	entry := e.audited(st, "user.roles", nil, &u, "users", "grant-role", "alice", "--role", "manager", "--expires-in", "7d")
	after := time.Now()
	if entry.TargetID != u.ID || !strings.Contains(string(entry.Changes), "manager until ") {
		t.Errorf("audit entry %+v, want alice's roles with the manager expiry", entry)
	}
	g, ok := grantOf(u.RoleGrants, "manager")
	if !ok || g.ExpiresAt == nil || g.ExpiresAt.Before(before.Add(7*24*time.Hour).Truncate(time.Second)) || g.ExpiresAt.After(after.Add(7*24*time.Hour)) {
		t.Fatalf("role_grants %+v, want manager for 7 days from the run", u.RoleGrants)
	}
	if v, ok := grantOf(u.RoleGrants, "viewer"); !ok || v.ExpiresAt != nil {
		t.Errorf("role_grants %+v, want viewer kept for good", u.RoleGrants)
	}
	stored, err := st.GetUser(ctx, u.ID)
	if err != nil || !stored.RoleExpiry["manager"].Equal(*g.ExpiresAt) || !slices.Contains(stored.Roles, "viewer") {
		t.Fatalf("stored user %+v (%v), want manager until %v beside viewer", stored, err, g.ExpiresAt)
	}

	// An instant; the earlier grant keeps its expiry.
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	e.audited(st, "user.roles", nil, &u, "users", "grant-role", "alice", "--role", "trader", "--expires-at", until.Format(time.RFC3339))
	var grants []admin.RoleGrantView
	e.ok(&grants, "users", "grants", "alice")
	if tr, ok := grantOf(grants, "trader"); !ok || tr.ExpiresAt == nil || !tr.ExpiresAt.Equal(until) {
		t.Errorf("users grants %+v, want trader until %v", grants, until)
	}
	if m, ok := grantOf(grants, "manager"); !ok || m.ExpiresAt == nil || !m.ExpiresAt.Equal(*g.ExpiresAt) {
		t.Errorf("users grants %+v, want manager still until %v", grants, g.ExpiresAt)
	}
	if len(grants) != 3 {
		t.Errorf("users grants %+v, want viewer, manager and trader", grants)
	}

	// Without an expiry the grant is for good.
	e.audited(st, "user.roles", nil, &u, "users", "grant-role", "alice", "--role", "manager")
	if m, ok := grantOf(u.RoleGrants, "manager"); !ok || m.ExpiresAt != nil {
		t.Errorf("role_grants %+v, want manager for good", u.RoleGrants)
	}
	e.audited(st, "user.roles", nil, &u, "users", "revoke-role", "alice", "--role", "trader")
	if _, ok := grantOf(u.RoleGrants, "trader"); ok || len(u.RoleGrants) != 2 {
		t.Errorf("role_grants after revoke-role %+v, want viewer and manager", u.RoleGrants)
	}

	for _, tt := range []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"zero days", []string{"--role", "trader", "--expires-in", "0d"}, []string{"--expires-in", "positive"}},
		{"not a duration", []string{"--role", "trader", "--expires-in", "a week"}, []string{"--expires-in"}},
		{"not a time", []string{"--role", "trader", "--expires-at", "tomorrow"}, []string{"--expires-at", "RFC 3339"}},
		{"in the past", []string{"--role", "trader", "--expires-at", "2001-01-01T00:00:00Z"}, []string{"invalid input", "expires_at", "future"}},
		{"both", []string{"--role", "trader", "--expires-in", "1d", "--expires-at", until.Format(time.RFC3339)}, []string{"expires-in", "expires-at"}},
		{"unknown role", []string{"--role", "wizard"}, []string{"wizard"}},
		{"no role", []string{"--expires-in", "1d"}, []string{"role"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.sub(t).unaudited(st, tt.stderr, append([]string{"users", "grant-role", "alice"}, tt.args...)...)
		})
	}
	e.unaudited(st, []string{"trader"}, "users", "revoke-role", "alice", "--role", "trader")
	e.unaudited(st, []string{"nobody"}, "users", "grants", "nobody")
}

// TestUsersDenyAndPermissions: the deny list is added to, listed and
// removed from (audited user.denied_permissions), and `users permissions`
// shows each permission's sources, expiry and denial.
func TestUsersDenyAndPermissions(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()
	var u admin.UserView
	e.ok(&u, "users", "create", "--username", "bob", "--email", "bob@example.com", "--password", "correct horse battery", "--role", "viewer")
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	e.ok(nil, "users", "grant-role", "bob", "--role", "manager", "--expires-at", until.Format(time.RFC3339))

	var denied deniedView
	e.ok(&denied, "users", "deny", "list", "bob")
	if denied.UserID != u.ID || denied.DeniedPermissions == nil || len(denied.DeniedPermissions) != 0 {
		t.Fatalf("deny list of a new user %+v, want empty", denied)
	}
	e.audited(st, "user.denied_permissions", nil, &denied, "users", "deny", "add", "bob", "users:read", "audit:read")
	if !slices.Equal(denied.DeniedPermissions, []string{"audit:read", "users:read"}) {
		t.Fatalf("deny add printed %+v", denied)
	}
	stored, err := st.GetUser(ctx, u.ID)
	if err != nil || !slices.Equal(stored.DeniedPermissions, []string{"audit:read", "users:read"}) {
		t.Fatalf("stored deny list %v (%v)", stored.DeniedPermissions, err)
	}

	var view admin.EffectivePermissionsView
	e.ok(&view, "users", "permissions", "bob")
	byName := map[string]admin.EffectivePermissionView{}
	for _, p := range view.Permissions {
		byName[p.Permission] = p
	}
	if !slices.Contains(view.EffectiveRoles, "manager") || view.UserID != u.ID {
		t.Errorf("effective roles %v, want manager among them", view.EffectiveRoles)
	}
	read := byName["users:read"]
	if read.Granted || !read.Denied || len(read.Sources) != 1 || read.Sources[0].Role != "manager" ||
		read.Sources[0].ExpiresAt == nil || !read.Sources[0].ExpiresAt.Equal(until) || read.Reason == "" {
		t.Errorf("users:read %+v, want denied with its source manager until %v", read, until)
	}
	dash := byName["dashboards:read"]
	if !dash.Granted || dash.Denied || len(dash.Sources) < 2 {
		t.Errorf("dashboards:read %+v, want granted by viewer and by manager (inherited)", dash)
	}

	e.audited(st, "user.denied_permissions", nil, &denied, "users", "deny", "remove", "bob", "users:read")
	if !slices.Equal(denied.DeniedPermissions, []string{"audit:read"}) {
		t.Fatalf("deny remove printed %+v", denied)
	}
	e.ok(&view, "users", "permissions", "bob")
	for _, p := range view.Permissions {
		if p.Permission == "users:read" && (!p.Granted || p.Denied) {
			t.Errorf("users:read after removal %+v, want granted", p)
		}
	}
	e.unaudited(st, []string{"invalid input", "permissions", "magic:cast"}, "users", "deny", "add", "bob", "magic:cast")
	e.unaudited(st, []string{"nobody"}, "users", "deny", "add", "nobody", "users:read")
	e.fails([]string{"arg"}, "users", "deny", "add", "bob")
}

// TestPermissionsCommands: a custom permission is defined, listed beside
// the built-in ones, attached to a role and taken off it again, and
// deleted only once no role carries it; each change audited by the CLI.
func TestPermissionsCommands(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var p admin.PermissionView
	entry := e.audited(st, "permission.create", nil, &p, "permissions", "create", "--name", "models:use", "--description", "Call the models")
	if p.Name != "models:use" || p.Description != "Call the models" || p.BuiltIn || entry.TargetID != "models:use" {
		t.Fatalf("created %+v, audit %+v", p, entry)
	}
	var list []admin.PermissionView
	e.ok(&list, "permissions", "list")
	if !slices.ContainsFunc(list, func(v admin.PermissionView) bool { return v.Name == "models:use" && !v.BuiltIn }) ||
		!slices.ContainsFunc(list, func(v admin.PermissionView) bool { return v.Name == "users:read" && v.BuiltIn }) {
		t.Errorf("permissions list %+v, want models:use beside the built-in ones", list)
	}
	e.ok(&list, "permissions", "list", "--custom")
	if len(list) != 1 || list[0].Name != "models:use" {
		t.Errorf("permissions list --custom %+v", list)
	}
	e.unaudited(st, []string{"already exists"}, "permissions", "create", "--name", "models:use")
	e.unaudited(st, []string{"invalid input", "name"}, "permissions", "create", "--name", "Models")
	e.unaudited(st, []string{"invalid input", "built-in"}, "permissions", "create", "--name", "users:read")

	e.ok(nil, "roles", "create", "--name", "analyst", "--parent", "viewer")
	var role admin.RoleView
	e.audited(st, "role.update", nil, &role, "roles", "update", "analyst", "--add-permission", "models:use")
	if !slices.Equal(role.Permissions, []string{"models:use"}) {
		t.Fatalf("roles update printed %+v", role)
	}
	stored, err := st.GetRole(ctx, "analyst")
	if err != nil || !slices.Equal(stored.Permissions, []string{"models:use"}) {
		t.Fatalf("stored role %+v (%v)", stored, err)
	}
	e.unaudited(st, []string{"analyst"}, "permissions", "delete", "models:use")
	e.unaudited(st, []string{"invalid input", "permissions"}, "roles", "update", "analyst", "--add-permission", "magic:cast")
	e.unaudited(st, []string{"invalid input", "permissions", "built-in"}, "roles", "update", "manager", "--add-permission", "models:use")
	e.unaudited(st, []string{"nothing to change"}, "roles", "update", "analyst")
	e.unaudited(st, []string{"built-in"}, "permissions", "delete", "users:read")

	e.audited(st, "role.update", nil, &role, "roles", "update", "analyst", "--remove-permission", "models:use")
	if len(role.Permissions) != 0 {
		t.Fatalf("after remove-permission %+v", role)
	}
	e.audited(st, "permission.delete", nil, nil, "permissions", "delete", "models:use")
	if _, err := st.GetPermission(ctx, "models:use"); err == nil {
		t.Fatal("models:use still stored after delete")
	}
	e.unaudited(st, []string{"models:use"}, "permissions", "delete", "models:use")
}
