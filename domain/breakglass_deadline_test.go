package domain_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// TestBreakGlassDeadline: the tokens of a break-glass account's grant end
// with its login session (at most an hour after the sign-in, however long
// the session would otherwise last); a session that is gone has ended;
// other accounts have no deadline.
func TestBreakGlassDeadline(t *testing.T) {
	e := newBreakGlassEnv(t)
	bg := e.user("bg-admin", "admin")
	flag := true
	bg, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), bg.ID, domain.UserPatch{BreakGlass: &flag})
	if err != nil {
		t.Fatal(err)
	}
	plain := e.user("plain", "user")
	start := func(u store.User, id string, lifetime time.Duration) store.LoginSession {
		t.Helper()
		ls, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: id, User: u, Lifetime: lifetime, IP: "192.0.2.7"})
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	now := e.clock.Now()
	long := start(bg, "s-long", 24*time.Hour)
	short := start(bg, "s-short", 20*time.Minute)
	plainSession := start(plain, "s-plain", 24*time.Hour)

	for _, c := range []struct {
		name     string
		u        store.User
		session  string
		authTime time.Time
		want     time.Time
	}{
		{"other account", plain, plainSession.ID, now, time.Time{}},
		{"session asked a day: an hour", bg, long.ID, long.AuthTime, now.Add(domain.BreakGlassSessionLifetime)},
		{"shorter session: its end", bg, short.ID, short.AuthTime, short.ExpiresAt},
		{"an hour after the sign-in though the session says later", bg, long.ID, now.Add(-30 * time.Minute), now.Add(30 * time.Minute)},
		{"session gone: now", bg, "s-gone", now, now},
		{"no session: an hour after the sign-in", bg, "", now.Add(-10 * time.Minute), now.Add(50 * time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.svc.BreakGlassDeadline(e.ctx, c.u, c.session, c.authTime)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(c.want) {
				t.Errorf("deadline %v, want %v", got, c.want)
			}
		})
	}
	if short.ExpiresAt != now.Add(20*time.Minute) {
		t.Fatalf("short session ends %v", short.ExpiresAt)
	}
}
