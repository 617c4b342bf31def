package main

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestAuditList(t *testing.T) {
	e, url := newDBEnv(t)
	st := openTestStore(t, url)

	var alice, bob admin.UserView
	e.ok(&alice, "users", "create", "--username", "alice", "--email", "alice@example.com", "--password", "correct horse battery", "--role", "user")
	e.ok(&bob, "users", "create", "--username", "bob", "--email", "bob@example.com", "--password", "correct horse battery", "--role", "user")
	e.ok(nil, "users", "lock", "bob")
	e.ok(nil, "roles", "create", "--name", "auditor", "--parent", "viewer")
	// One change made by a user through the domain, as the API would.
	svc := domain.NewService(st, domain.Options{Passwords: domain.Passwords{BcryptCost: 4, MinLength: 8}})
	if _, err := svc.CreateRole(context.Background(), domain.Actor{Type: store.ActorUser, ID: alice.ID}, store.Role{Name: "helper", Parent: "user"}); err != nil {
		t.Fatal(err)
	}

	var all []admin.AuditEntryView
	r := e.ok(&all, "audit", "list")
	if len(all) != 5 {
		t.Fatalf("audit list has %d entries, want 5:\n%s", len(all), r.stdout)
	}
	wantActions := []string{"role.create", "role.create", "user.status", "user.create", "user.create"}
	wantActors := []string{"user:" + alice.ID, "cli", "cli", "cli", "cli"}
	for i, a := range all {
		if a.Action != wantActions[i] || a.Actor != wantActors[i] || a.At.IsZero() {
			t.Errorf("entry %d = %+v, want %s by %s (newest first)", i, a, wantActions[i], wantActors[i])
		}
		if i > 0 && a.ID >= all[i-1].ID {
			t.Errorf("entries not newest first: %d after %d", a.ID, all[i-1].ID)
		}
	}

	tests := []struct {
		name string
		args []string
		want []int64 // entry ids, newest first
	}{
		{"exact action", []string{"--action", "user.create"}, []int64{all[3].ID, all[4].ID}},
		{"action prefix", []string{"--action", "user."}, []int64{all[2].ID, all[3].ID, all[4].ID}},
		{"target", []string{"--target", bob.ID}, []int64{all[2].ID, all[3].ID}},
		{"limit", []string{"--limit", "1"}, []int64{all[0].ID}},
		{"before", []string{"--before", strconv.FormatInt(all[2].ID, 10), "--limit", "1"}, []int64{all[3].ID}},
		{"since the future", []string{"--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, nil},
		{"until the past", []string{"--until", "2000-01-01T00:00:00Z"}, nil},
		{"since the past", []string{"--since", "2000-01-01T00:00:00Z", "--action", "role."}, []int64{all[0].ID, all[1].ID}},
		{"actor id", []string{"--actor", alice.ID}, []int64{all[0].ID}},
		{"actor as shown", []string{"--actor", "user:" + alice.ID}, []int64{all[0].ID}},
		{"actor without entries", []string{"--actor", bob.ID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []admin.AuditEntryView
			e.ok(&got, append([]string{"audit", "list"}, tt.args...)...)
			var ids []int64
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			if !slices.Equal(ids, tt.want) {
				t.Fatalf("audit list %v = %v, want %v", tt.args, ids, tt.want)
			}
		})
	}

	// Reading the log is not itself audited.
	if n := len(auditSince(t, st, all[0].ID)); n != 0 {
		t.Fatalf("audit list left %d audit entries", n)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "yesterday"}, "--since"},
		{[]string{"--until", "2025-13-01"}, "--until"},
		{[]string{"--limit", "0"}, "--limit"},
		{[]string{"--before", "-5"}, "--before"},
	} {
		e.fails([]string{tt.want}, append([]string{"audit", "list"}, tt.args...)...)
	}
}
