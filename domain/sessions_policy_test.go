package domain_test

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestSessionLive(t *testing.T) {
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	ls := store.LoginSession{AuthTime: at, LastSeenAt: at.Add(time.Hour), ExpiresAt: at.Add(24 * time.Hour)}
	for _, tc := range []struct {
		name           string
		now            time.Time
		idle, lifetime time.Duration
		want           bool
	}{
		{"no bounds, before expiry", at.Add(23 * time.Hour), 0, 0, true},
		{"at its stored expiry", at.Add(24 * time.Hour), 0, 0, false},
		{"used within the idle timeout", at.Add(90 * time.Minute), time.Hour, 0, true},
		{"idle exactly the timeout", at.Add(2 * time.Hour), time.Hour, 0, true},
		{"idle longer than the timeout", at.Add(2*time.Hour + time.Second), time.Hour, 0, false},
		{"older than a shortened lifetime", at.Add(8 * time.Hour), 0, 8 * time.Hour, false},
		{"within the lifetime", at.Add(7 * time.Hour), 0, 8 * time.Hour, true},
	} {
		if got := domain.SessionLive(ls, tc.now, tc.idle, tc.lifetime); got != tc.want {
			t.Errorf("%s: SessionLive = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSessionLimitAndIdleTimeout: a sign-in over the limit ends the oldest
// session (audited session.evicted), a user's own limit wins over the
// default, 0 is none; a session unused for longer than the idle timeout no
// longer counts, one in use does.
func TestSessionLimitAndIdleTimeout(t *testing.T) {
	e := newEnv(t)
	svc := domain.NewService(e.store, domain.Options{
		Passwords:          domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:                e.clock.Now,
		SessionLimit:       2,
		SessionIdleTimeout: 20 * time.Minute,
		SessionLifetime:    24 * time.Hour,
	})
	alice := e.user("alice", "user")
	start := func(id string, u store.User) {
		t.Helper()
		if _, err := svc.StartSession(e.ctx, domain.NewSession{ID: id, User: u, IP: "192.0.2.9", Lifetime: 24 * time.Hour}); err != nil {
			t.Fatalf("StartSession(%s): %v", id, err)
		}
		e.clock.Advance(time.Second)
	}
	live := func(id string) bool {
		t.Helper()
		_, _, err := svc.CurrentSession(e.ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}

	start("s1", alice)
	start("s2", alice)
	before := e.lastID()
	start("s3", alice)
	if live("s1") || !live("s2") || !live("s3") {
		t.Fatalf("after a third sign-in with limit 2: s1 %v s2 %v s3 %v; want the oldest ended", live("s1"), live("s2"), live("s3"))
	}
	entries := e.since(before)
	if len(entries) != 1 || entries[0].Action != "session.evicted" || entries[0].TargetID != "s1" ||
		changesOf(t, entries[0])["user_id"]["before"] != alice.ID || entries[0].IPAddress != "192.0.2.9" {
		t.Fatalf("audit %+v, want one session.evicted of s1", entries)
	}
	if got, err := svc.ListSessions(e.ctx, alice.ID); err != nil || len(got) != 2 {
		t.Fatalf("ListSessions = %d, %v; want 2", len(got), err)
	}

	// The user's own limit wins: 1 leaves only the newest; 0 is none.
	one := 1
	alice.SessionLimit = &one
	start("s4", alice)
	if live("s2") || live("s3") || !live("s4") {
		t.Fatal("limit 1: want only s4 left")
	}
	zero := 0
	alice.SessionLimit = &zero
	for _, id := range []string{"s5", "s6", "s7"} {
		start(id, alice)
	}
	if !live("s4") || !live("s5") || !live("s7") {
		t.Fatal("limit 0: want every session kept")
	}

	// Idle: s7 is used every 10 minutes and lives on; s6 is left alone.
	for range 3 {
		e.clock.Advance(10 * time.Minute)
		if !live("s7") {
			t.Fatal("a session in use every 10 minutes was taken for idle")
		}
	}
	if live("s6") {
		t.Fatal("a session unused for 30 minutes still counts, idle timeout 20m")
	}
	if got, _ := svc.ListSessions(e.ctx, alice.ID); len(got) != 1 || got[0].ID != "s7" {
		t.Fatalf("ListSessions = %+v, want only s7", got)
	}
	// An idle session does not count toward the limit either.
	alice.SessionLimit = &one
	before = e.lastID()
	start("s8", alice)
	if entries := e.since(before); len(entries) != 1 || entries[0].TargetID != "s7" {
		t.Fatalf("evicted %+v, want only the live s7", entries)
	}
}
