package domain_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestStats(t *testing.T) {
	e := newEnv(t)
	// The clock reads 2030-01-02 03:04:05 UTC: today is 2030-01-02 and the
	// fourteen days start on 2029-12-20.
	now := e.clock.Now()
	got, err := e.svc.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.SignIns) != domain.SignInDays || got.PendingAccessRequests != 0 || len(got.Users) != 5 {
		t.Fatalf("stats of an empty directory = %+v", got)
	}
	for st, n := range got.Users {
		if n != 0 {
			t.Errorf("%s = %d in an empty directory", st, n)
		}
	}

	e.user("admin1", "admin")
	e.user("active1", "user")
	pending := e.user("pending1")
	e.user("pending2")
	locked := e.user("locked1", "user")
	if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), locked.ID, store.StatusLocked); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateUser(e.ctx, admin, domain.NewUser{Username: "temp", Email: "temp@example.com",
		Roles: []string{"user"}, ExpiresAt: ptr(now.Add(time.Minute))}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SubmitAccessRequest(e.ctx, admin, pending.ID, "user", "I need in"); err != nil {
		t.Fatal(err)
	}
	day := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	for _, at := range []time.Time{
		day(2030, 1, 2, 1), day(2030, 1, 2, 2), // today
		day(2029, 12, 31, 23), // a day with one
		day(2029, 12, 20, 0),  // the first day counted
		day(2029, 12, 19, 23), // the day before: not counted
	} {
		if _, err := e.store.AppendAudit(e.ctx, store.AuditEntry{At: at, ActorType: store.ActorUser, Action: "login.success"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.AppendAudit(e.ctx, store.AuditEntry{At: now, ActorType: store.ActorAnonymous, Action: "login.failure"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute) // temp expires

	got, err = e.svc.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[store.UserStatus]int{store.StatusActive: 2, store.StatusPending: 2, store.StatusLocked: 1,
		store.StatusDisabled: 0, store.StatusExpired: 1}
	for st, n := range want {
		if got.Users[st] != n {
			t.Errorf("users %s = %d, want %d (all: %v)", st, got.Users[st], n, got.Users)
		}
	}
	if got.PendingAccessRequests != 1 {
		t.Errorf("pending requests = %d, want 1", got.PendingAccessRequests)
	}
	if len(got.SignIns) != domain.SignInDays {
		t.Fatalf("%d days, want %d", len(got.SignIns), domain.SignInDays)
	}
	counts := map[string]int{}
	for i, d := range got.SignIns {
		wantDay := time.Date(2029, 12, 20+i, 0, 0, 0, 0, time.UTC)
		if !d.Day.Equal(wantDay) {
			t.Errorf("day %d is %v, want %v", i, d.Day, wantDay)
		}
		counts[d.Day.Format(time.DateOnly)] = d.Count
	}
	for date, n := range map[string]int{"2029-12-20": 1, "2029-12-31": 1, "2030-01-02": 2, "2030-01-01": 0} {
		if counts[date] != n {
			t.Errorf("sign-ins on %s = %d, want %d", date, counts[date], n)
		}
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != 4 {
		t.Errorf("%d sign-ins counted, want 4 (the one before the range and the failure left out)", total)
	}
}
