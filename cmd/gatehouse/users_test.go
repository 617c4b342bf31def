package main

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestUsersCreateAndList(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)
	ctx := context.Background()

	var alice userView
	r := e.ok(&alice, "users", "create", "--username", "alice", "--email", "Alice@Example.com",
		"--password", "correct horse battery", "--full-name", "Alice Liddell", "--role", "admin", "--role", "viewer")
	assertNoPasswordHash(t, r.stdout)
	if alice.Username != "alice" || alice.Email != "alice@example.com" || alice.FullName != "Alice Liddell" ||
		alice.Status != "active" || strings.Join(alice.Roles, ",") != "admin,viewer" || alice.CreatedAt.IsZero() {
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

	// The password may come from stdin instead of the command line.
	e.stdin = "another good one\n"
	var bob userView
	e.ok(&bob, "users", "create", "--username", "bob", "--email", "bob@example.com", "--password-stdin", "--status", "pending")
	e.stdin = ""
	if bob.Status != "pending" || len(bob.Roles) != 0 {
		t.Fatalf("bob printed as %+v", bob)
	}
	storedBob, err := st.GetUserByUsername(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := (domain.Passwords{BcryptCost: 4}).Verify(storedBob.PasswordHash, "another good one"); !ok {
		t.Fatal("password read from stdin was not the one stored")
	}

	var list []userView
	r = e.ok(&list, "users", "list")
	assertNoPasswordHash(t, r.stdout)
	if len(list) != 2 || list[0].Username != "alice" || list[1].Username != "bob" {
		t.Fatalf("users list = %+v, want alice then bob", list)
	}
	e.ok(&list, "users", "list", "--limit", "1")
	if len(list) != 1 || list[0].Username != "alice" {
		t.Fatalf("users list --limit 1 = %+v, want alice only", list)
	}
	e.ok(&list, "users", "list", "--status", "pending")
	if len(list) != 1 || list[0].Username != "bob" {
		t.Fatalf("users list --status pending = %+v, want bob only", list)
	}
	e.ok(&list, "users", "list", "--after", "alice")
	if len(list) != 1 || list[0].Username != "bob" {
		t.Fatalf("users list --after alice = %+v, want bob only", list)
	}
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
			[]string{"already exists"}},
		{"duplicate email in another case", []string{"--username", "alice2", "--email", "ALICE@example.com", "--password", "correct horse battery"},
			[]string{"already exists"}},
		{"invalid username", []string{"--username", "Alice!", "--email", "a2@example.com", "--password", "correct horse battery"},
			[]string{"username"}},
		{"invalid email", []string{"--username", "carol", "--email", "carol at example", "--password", "correct horse battery"},
			[]string{"email"}},
		{"short password", []string{"--username", "carol", "--email", "carol@example.com", "--password", "short"},
			[]string{"password", "at least 8"}},
		{"password containing the username", []string{"--username", "carol", "--email", "carol@example.com", "--password", "i-am-carol-123"},
			[]string{"password"}},
		{"unknown role", []string{"--username", "carol", "--email", "carol@example.com", "--password", "correct horse battery", "--role", "wizard"},
			[]string{`role "wizard" does not exist`}},
		{"bad status", []string{"--username", "carol", "--email", "carol@example.com", "--password", "correct horse battery", "--status", "locked"},
			[]string{"--status"}},
		{"both password flags", []string{"--username", "carol", "--email", "carol@example.com", "--password", "correct horse battery", "--password-stdin"},
			[]string{"password"}},
		{"no password", []string{"--username", "carol", "--email", "carol@example.com"},
			[]string{"password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.fails(tt.stderr, append([]string{"users", "create"}, tt.args...)...)
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

// assertNoPasswordHash checks the printed JSON has no password field and no
// bcrypt hash anywhere.
func assertNoPasswordHash(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "password") || strings.Contains(out, "$2a$") {
		t.Fatalf("output mentions the password or its hash:\n%s", out)
	}
}
