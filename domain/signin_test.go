package domain_test

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestAuthenticate(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(e *env, u store.User)
		login    string
		password string
		wantOK   bool
		// wantTarget: whether the failure entry names the user.
		wantTarget bool
	}{
		{"by username", nil, "alice", goodPassword, true, true},
		{"by username with stray spaces", nil, " alice ", goodPassword, true, true},
		{"by email, any case", nil, "Alice@Example.COM", goodPassword, true, true},
		{"wrong password", nil, "alice", "not the password", false, true},
		{"unknown user", nil, "nobody", goodPassword, false, false},
		{"unknown email", nil, "nobody@example.com", goodPassword, false, false},
		{"empty password", nil, "alice", "", false, true},
		{"pending user is let through to request access", func(e *env, u store.User) {
			u.Status = store.StatusPending
			if err := e.store.UpdateUser(e.ctx, u); err != nil {
				e.t.Fatal(err)
			}
		}, "alice", goodPassword, true, true},
		{"locked by an admin", func(e *env, u store.User) {
			if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), u.ID, store.StatusLocked); err != nil {
				e.t.Fatal(err)
			}
		}, "alice", goodPassword, false, true},
		{"disabled", func(e *env, u store.User) {
			if err := e.svc.DeleteUser(e.ctx, domain.Operator(admin), u.ID, false); err != nil {
				e.t.Fatal(err)
			}
		}, "alice", goodPassword, false, true},
		{"expired account", func(e *env, u store.User) {
			if _, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), u.ID, domain.UserPatch{ExpiresAt: ptr(ptr(e.clock.Now().Add(time.Hour)))}); err != nil {
				e.t.Fatal(err)
			}
			e.clock.Advance(2 * time.Hour)
		}, "alice", goodPassword, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.user("alice", "user")
			if tc.setup != nil {
				tc.setup(e, u)
			}
			before := e.lastID()
			got, err := e.svc.Authenticate(e.ctx, tc.login, tc.password, "198.51.100.7")
			entries := e.since(before)
			if len(entries) != 1 {
				t.Fatalf("want one audit entry, got %+v", entries)
			}
			a := entries[0]
			if a.IPAddress != "198.51.100.7" {
				t.Errorf("ip = %q", a.IPAddress)
			}
			if tc.wantOK {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if got.ID != u.ID || got.LastLoginAt == nil || !got.LastLoginAt.Equal(e.clock.Now()) {
					t.Fatalf("user = %+v", got)
				}
				if a.Action != "login.success" || a.ActorType != store.ActorUser || a.ActorID != u.ID || a.TargetID != u.ID {
					t.Fatalf("entry = %+v", a)
				}
				stored, _ := e.svc.GetUser(e.ctx, u.ID)
				if stored.LastLoginAt == nil {
					t.Fatal("LastLoginAt not stored")
				}
				return
			}
			if !errors.Is(err, domain.ErrInvalidCredentials) {
				t.Fatalf("want ErrInvalidCredentials, got %v", err)
			}
			if a.Action != "login.failure" || a.ActorType != store.ActorAnonymous {
				t.Fatalf("entry = %+v", a)
			}
			if tc.wantTarget != (a.TargetID == u.ID) {
				t.Fatalf("target = %q", a.TargetID)
			}
		})
	}
}

func TestLockoutAfterRepeatedFailures(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	fail := func() {
		t.Helper()
		if _, err := e.svc.Authenticate(e.ctx, "alice", "wrong password", ""); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}

	// A success resets the count: four failures, a success, four more do
	// not lock.
	for range domain.DefaultLockoutThreshold - 1 {
		fail()
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); err != nil {
		t.Fatalf("sign-in below the threshold: %v", err)
	}
	if s, _ := e.svc.GetUser(e.ctx, u.ID); s.FailedLogins != 0 {
		t.Fatalf("FailedLogins = %d after a success", s.FailedLogins)
	}
	for range domain.DefaultLockoutThreshold - 1 {
		fail()
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); err != nil {
		t.Fatalf("the count was not reset by the success: %v", err)
	}

	// The threshold-th failure in a row locks, with a user.lock entry by
	// the system.
	for range domain.DefaultLockoutThreshold - 1 {
		fail()
	}
	before := e.lastID()
	fail()
	entries := e.since(before)
	if len(entries) != 2 || entries[0].Action != "login.failure" || entries[1].Action != "user.lock" ||
		entries[1].ActorType != store.ActorSystem || entries[1].TargetID != u.ID {
		t.Fatalf("entries = %+v", entries)
	}
	locked, _ := e.svc.GetUser(e.ctx, u.ID)
	if locked.LockedUntil == nil || !locked.LockedUntil.Equal(e.clock.Now().Add(domain.DefaultLockoutDuration)) {
		t.Fatalf("LockedUntil = %v", locked.LockedUntil)
	}

	// While locked even the right password fails, and attempts do not
	// extend the lock.
	before = e.lastID()
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("locked user signed in: %v", err)
	}
	if entries := e.since(before); len(entries) != 1 || entries[0].Action != "login.failure" {
		t.Fatalf("entries = %+v", entries)
	}
	fail()
	if again, _ := e.svc.GetUser(e.ctx, u.ID); !again.LockedUntil.Equal(*locked.LockedUntil) || again.FailedLogins != 0 {
		t.Fatalf("attempts while locked changed the lock: %v, %d", again.LockedUntil, again.FailedLogins)
	}

	// After the lock expires the right password works and clears it.
	e.clock.Advance(domain.DefaultLockoutDuration)
	got, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, "")
	if err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	if got.LockedUntil != nil || got.FailedLogins != 0 {
		t.Fatalf("lockout not cleared: %+v", got)
	}
}

func TestAuthenticateRehashesOldParameters(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	old, err := bcrypt.GenerateFromPassword([]byte(goodPassword), bcrypt.MinCost+1)
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = string(old)
	if err := e.store.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); err != nil {
		t.Fatal(err)
	}
	stored, _ := e.svc.GetUser(e.ctx, u.ID)
	cost, err := bcrypt.Cost([]byte(stored.PasswordHash))
	if err != nil || cost != bcrypt.MinCost {
		t.Fatalf("cost after sign-in = %d (%v), want %d", cost, err, bcrypt.MinCost)
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); err != nil {
		t.Fatalf("the new hash does not verify: %v", err)
	}
	for _, a := range e.audit() {
		if containsAny(string(a.Changes), string(old), stored.PasswordHash, goodPassword) {
			t.Fatalf("%s records a password or hash: %s", a.Action, a.Changes)
		}
	}
}
