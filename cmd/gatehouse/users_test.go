package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestUsersCreateAndList(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var alice admin.UserView
	entry := e.audited(st, "user.create", []string{"correct horse battery", "$2a$"}, &alice,
		"users", "create", "--username", "alice", "--email", "Alice@Example.com",
		"--password", "correct horse battery", "--full-name", "Alice Liddell", "--department", "Trading",
		"--goal", "Track intraday P&L", "--role", "admin", "--role", "viewer")
	if entry.TargetID != alice.ID {
		t.Errorf("user.create audit target %q, want %q", entry.TargetID, alice.ID)
	}
	if alice.Username != "alice" || alice.Email != "alice@example.com" || alice.FullName != "Alice Liddell" ||
		alice.Department != "Trading" || !slices.Equal(alice.Goals, []string{"Track intraday P&L"}) ||
		alice.Status != "active" || !slices.Equal(alice.Roles, []string{"admin", "viewer"}) || alice.CreatedAt.IsZero() {
		t.Fatalf("created user printed as %+v", alice)
	}

	// The store holds a bcrypt hash at the configured cost that verifies.
	stored, err := st.GetUser(ctx, alice.ID)
	if err != nil {
		t.Fatalf("created user %s not in the store: %v", alice.ID, err)
	}
	if ok, _ := (domain.Passwords{BcryptCost: 4}).Verify(stored.PasswordHash, "correct horse battery"); !ok {
		t.Fatal("stored hash does not verify the password")
	}
	if cost, err := bcrypt.Cost([]byte(stored.PasswordHash)); err != nil || cost != 4 {
		t.Fatalf("bcrypt cost %d (%v), want 4 from the config file", cost, err)
	}

	// The password may come from stdin; a user created without roles is
	// pending: it may sign in only to ask for access.
	e.stdin = "another good one\n"
	var bob admin.UserView
	r := e.ok(&bob, "users", "create", "--username", "bob", "--email", "bob@example.com", "--password-stdin")
	e.stdin = ""
	assertNoPasswordHash(t, r.stdout)
	if bob.Status != "pending" || len(bob.Roles) != 0 {
		t.Fatalf("bob printed as %+v, want pending without roles", bob)
	}
	storedBob, err := st.GetUserByUsername(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := (domain.Passwords{BcryptCost: 4}).Verify(storedBob.PasswordHash, "another good one"); !ok {
		t.Fatal("password read from stdin was not the one stored")
	}

	var list []admin.UserView
	r = e.ok(&list, "users", "list")
	assertNoPasswordHash(t, r.stdout)
	if got := usernames(list); got != "alice,bob" {
		t.Fatalf("users list = %s, want alice,bob", got)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--limit", "1"}, "alice"},
		{[]string{"--status", "pending"}, "bob"},
		{[]string{"--after", "alice"}, "bob"},
		{[]string{"--role", "admin"}, "alice"},
		{[]string{"--query", "LIDDELL"}, "alice"},
		{[]string{"--query", "nobody"}, ""},
	} {
		e.ok(&list, append([]string{"users", "list"}, tt.args...)...)
		if got := usernames(list); got != tt.want {
			t.Errorf("users list %v = %q, want %q", tt.args, got, tt.want)
		}
	}
	if r := e.ok(nil, "users", "list", "--query", "nobody"); r.stdout != "[]\n" {
		t.Errorf("an empty list printed %q, want []", r.stdout)
	}
}

func usernames(users []admin.UserView) string {
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	return strings.Join(names, ",")
}

func TestUsersCreateRejects(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	e.ok(nil, "users", "create", "--username", "alice", "--email", "alice@example.com", "--password", "correct horse battery")

	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"duplicate username", []string{"--username", "alice", "--email", "other@example.com", "--password", "correct horse battery"},
			[]string{`users create: username "alice" is taken` + "\n"}},
		{"duplicate email in another case", []string{"--username", "alice2", "--email", "ALICE@example.com", "--password", "correct horse battery"},
			[]string{`users create: email "alice@example.com" is taken` + "\n"}},
		{"invalid username", []string{"--username", "Alice!", "--email", "a2@example.com", "--password", "correct horse battery"},
			[]string{"invalid input", "username"}},
		{"invalid email", []string{"--username", "carol", "--email", "carol at example", "--password", "correct horse battery"},
			[]string{"invalid input", "email"}},
		{"every problem at once", []string{"--username", "C", "--email", "carol at example", "--password", "short"},
			[]string{"username", "email", "password"}},
		{"short password", []string{"--username", "carol", "--email", "carol@example.com", "--password", "short"},
			[]string{"password", "at least 8"}},
		{"password containing the username", []string{"--username", "carol", "--email", "carol@example.com", "--password", "i-am-carol-123"},
			[]string{"password"}},
		{"unknown role", []string{"--username", "carol", "--email", "carol@example.com", "--password", "correct horse battery", "--role", "wizard"},
			[]string{"role"}},
		{"bad status", []string{"--username", "carol", "--email", "carol@example.com", "--password", "correct horse battery", "--status", "sleeping"},
			[]string{"status"}},
		{"bad expiry", []string{"--username", "carol", "--email", "carol@example.com", "--password", "correct horse battery", "--expires-at", "tomorrow"},
			[]string{"--expires-at"}},
		{"both password flags", []string{"--username", "carol", "--email", "carol@example.com", "--password", "correct horse battery", "--password-stdin"},
			[]string{"password"}},
		{"no password", []string{"--username", "carol", "--email", "carol@example.com"},
			[]string{"password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sub(t).unaudited(st, tt.stderr, append([]string{"users", "create"}, tt.args...)...)
		})
	}

	// Nothing but alice was stored.
	users, err := st.ListUsers(context.Background(), store.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Username != "alice" {
		t.Fatalf("store holds %d users after the failures, want alice only", len(users))
	}

	e.fails([]string{"--limit"}, "users", "list", "--limit", "0")
}

func TestUsersChange(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var alice admin.UserView
	e.ok(&alice, "users", "create", "--username", "alice", "--email", "alice@example.com",
		"--password", "correct horse battery", "--role", "user", "--goal", "Old goal")
	e.ok(nil, "users", "create", "--username", "bob", "--email", "bob@example.com",
		"--password", "correct horse battery", "--role", "user")

	// get by username and by id print the same user.
	var byName, byID admin.UserView
	e.ok(&byName, "users", "get", "alice")
	e.ok(&byID, "users", "get", alice.ID)
	if byName.ID != alice.ID || byID.Username != "alice" {
		t.Fatalf("users get alice = %+v, get %s = %+v", byName, alice.ID, byID)
	}

	var updated admin.UserView
	e.audited(st, "user.update", nil, &updated, "users", "update", "alice",
		"--full-name", "Alice Liddell", "--department", "Trading",
		"--goal", "Reduce execution slippage", "--goal", "Track intraday P&L", "--expires-at", "2040-01-31T00:00:00Z")
	if updated.FullName != "Alice Liddell" || updated.Department != "Trading" || updated.Email != "alice@example.com" ||
		!slices.Equal(updated.Goals, []string{"Reduce execution slippage", "Track intraday P&L"}) ||
		updated.ExpiresAt == nil || !updated.ExpiresAt.Equal(time.Date(2040, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("users update printed %+v", updated)
	}
	e.audited(st, "user.update", nil, &updated, "users", "update", alice.ID, "--clear-goals", "--expires-at", "none")
	if len(updated.Goals) != 0 || updated.ExpiresAt != nil || updated.Department != "Trading" {
		t.Fatalf("users update --clear-goals --expires-at none printed %+v", updated)
	}

	var locked admin.UserView
	e.audited(st, "user.status", nil, &locked, "users", "lock", "alice")
	if locked.Status != "locked" {
		t.Fatalf("users lock printed status %q", locked.Status)
	}
	e.audited(st, "user.status", nil, &locked, "users", "unlock", "alice")
	if locked.Status != "active" {
		t.Fatalf("users unlock printed status %q", locked.Status)
	}

	e.stdin = "a brand new secret\n"
	r := e.audited(st, "user.password", []string{"a brand new secret", "$2a$"}, nil, "users", "set-password", "alice", "--password-stdin")
	e.stdin = ""
	if !strings.Contains(string(r.Changes), "password") {
		t.Errorf("user.password audit changes %s do not name the password field", r.Changes)
	}
	stored, err := st.GetUser(ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := (domain.Passwords{BcryptCost: 4}).Verify(stored.PasswordHash, "a brand new secret"); !ok {
		t.Fatal("set-password did not store the new password")
	}

	var withRoles admin.UserView
	e.audited(st, "user.roles", nil, &withRoles, "users", "set-roles", "alice", "--role", "manager", "--role", "viewer")
	if !slices.Equal(withRoles.Roles, []string{"manager", "viewer"}) {
		t.Fatalf("users set-roles printed roles %v", withRoles.Roles)
	}
	e.audited(st, "user.roles", nil, &withRoles, "users", "set-roles", "alice", "--none")
	if len(withRoles.Roles) != 0 {
		t.Fatalf("users set-roles --none printed roles %v", withRoles.Roles)
	}

	// Soft delete keeps the record, disabled.
	e.audited(st, "user.disable", nil, nil, "users", "delete", "alice")
	if u, err := st.GetUser(ctx, alice.ID); err != nil || u.Status != store.StatusDisabled {
		t.Fatalf("after users delete: %+v, %v; want the user kept, disabled", u, err)
	}
	// Hard delete removes it.
	var bob admin.UserView
	e.ok(&bob, "users", "get", "bob")
	e.audited(st, "user.delete", nil, nil, "users", "delete", "bob", "--hard")
	if _, err := st.GetUser(ctx, bob.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser after users delete --hard: %v, want ErrNotFound", err)
	}

	tests := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"get unknown", []string{"get", "nobody"}, []string{`user "nobody" not found`}},
		{"get hard-deleted by id", []string{"get", bob.ID}, []string{"not found"}},
		{"update unknown", []string{"update", "nobody", "--department", "X"}, []string{`user "nobody" not found`}},
		{"update nothing", []string{"update", "alice"}, []string{"nothing to change"}},
		{"update invalid email", []string{"update", "alice", "--email", "not an email"}, []string{"invalid input", "email"}},
		{"update goals both ways", []string{"update", "alice", "--goal", "x", "--clear-goals"}, []string{"--clear-goals"}},
		{"update bad expiry", []string{"update", "alice", "--expires-at", "soon"}, []string{"--expires-at"}},
		{"lock unknown", []string{"lock", "nobody"}, []string{`user "nobody" not found`}},
		{"unlock unknown", []string{"unlock", "nobody"}, []string{`user "nobody" not found`}},
		{"delete unknown", []string{"delete", "nobody", "--hard"}, []string{`user "nobody" not found`}},
		{"short password", []string{"set-password", "alice", "--password", "short"}, []string{"password", "at least 8"}},
		{"no password", []string{"set-password", "alice"}, []string{"password"}},
		{"unknown role", []string{"set-roles", "alice", "--role", "wizard"}, []string{"wizard"}},
		{"no roles named", []string{"set-roles", "alice"}, []string{"role"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.sub(t).unaudited(st, tt.stderr, append([]string{"users"}, tt.args...)...)
		})
	}
}

// assertNoPasswordHash checks the printed JSON has no password field and no
// bcrypt hash anywhere.
func assertNoPasswordHash(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "password") || strings.Contains(out, "$2a$") {
		t.Fatalf("output mentions the password or its hash:\n%s", out)
	}
}

// TestUsersIPRulesAndSessionLimit: ip-rules prints, replaces one list
// keeping the other, clears, and refuses a bad entry by its index; update
// sets and resets the session limit.
func TestUsersIPRulesAndSessionLimit(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	e.ok(nil, "users", "create", "--username", "carol", "--email", "carol@example.com",
		"--password", "correct horse battery", "--role", "user")

	var rules domain.IPRules
	e.ok(&rules, "users", "ip-rules", "carol")
	if len(rules.Allow) != 0 || len(rules.Deny) != 0 || rules.Allow == nil || rules.Deny == nil {
		t.Fatalf("no rules printed as %+v", rules)
	}
	e.audited(st, "user.ip_rules", nil, &rules, "users", "ip-rules", "carol", "--allow", "10.0.0.0/8", "--allow", "2001:db8::/32", "--deny", "10.9.9.9")
	if !slices.Equal(rules.Allow, []string{"10.0.0.0/8", "2001:db8::/32"}) || !slices.Equal(rules.Deny, []string{"10.9.9.9/32"}) {
		t.Fatalf("ip-rules printed %+v", rules)
	}
	e.audited(st, "user.ip_rules", nil, &rules, "users", "ip-rules", "carol", "--deny", "::1")
	if !slices.Equal(rules.Allow, []string{"10.0.0.0/8", "2001:db8::/32"}) || !slices.Equal(rules.Deny, []string{"::1/128"}) {
		t.Fatalf("--deny alone printed %+v, want the allow list kept", rules)
	}
	e.fails([]string{"allow[1]"}, "users", "ip-rules", "carol", "--allow", "10.0.0.0/8", "--allow", "10.1.2.3/8")
	e.audited(st, "user.ip_rules", nil, &rules, "users", "ip-rules", "carol", "--clear")
	if len(rules.Allow)+len(rules.Deny) != 0 {
		t.Fatalf("--clear printed %+v", rules)
	}

	var v admin.UserView
	e.audited(st, "user.update", nil, &v, "users", "update", "carol", "--session-limit", "3")
	if v.SessionLimit == nil || *v.SessionLimit != 3 {
		t.Fatalf("--session-limit 3 printed %+v", v.SessionLimit)
	}
	e.audited(st, "user.update", nil, &v, "users", "update", "carol", "--session-limit", "default")
	if v.SessionLimit != nil {
		t.Fatalf("--session-limit default printed %v", *v.SessionLimit)
	}
	e.fails([]string{"session-limit"}, "users", "update", "carol", "--session-limit", "many")
}
