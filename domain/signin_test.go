package domain_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
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

// TestLockoutPerAddress: wrong passwords from one address refuse that
// address for that account, for a while; the owner, from another address,
// still signs in, and the account is not locked.
func TestLockoutPerAddress(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	bob := e.user("bob", "user")
	const attacker, owner = "203.0.113.66", "198.51.100.7"
	signIn := func(name, password, ip string) error {
		t.Helper()
		_, err := e.svc.Authenticate(e.ctx, name, password, ip)
		return err
	}
	fail := func(ip string) {
		t.Helper()
		if err := signIn("alice", "wrong password", ip); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("wrong password from %s: %v", ip, err)
		}
	}

	// A success from the address clears its count: four failures, a
	// success, four more, and the right password still works.
	for range domain.DefaultLockoutThreshold - 1 {
		fail(attacker)
	}
	if err := signIn("alice", goodPassword, attacker); err != nil {
		t.Fatalf("sign-in below the threshold: %v", err)
	}
	for range domain.DefaultLockoutThreshold - 1 {
		fail(attacker)
	}
	if err := signIn("alice", goodPassword, attacker); err != nil {
		t.Fatalf("the count was not cleared by the success: %v", err)
	}

	// The threshold-th failure in the window refuses the address: even the
	// right password, with a login.failure entry and no lock.
	for range domain.DefaultLockoutThreshold {
		fail(attacker)
	}
	before := e.lastID()
	if err := signIn("alice", goodPassword, attacker); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("the refused address signed in with the right password: %v", err)
	}
	if entries := e.since(before); len(entries) != 1 || entries[0].Action != "login.failure" || entries[0].IPAddress != attacker {
		t.Fatalf("entries = %+v", entries)
	}
	stored, _ := e.svc.GetUser(e.ctx, u.ID)
	if stored.LockedUntil != nil || stored.Status != store.StatusActive {
		t.Fatalf("the account was locked for everyone: %+v", stored)
	}
	// Refused attempts are not counted: they do not extend the refusal.
	row, _, err := e.store.CountSignInFailures(e.ctx, u.ID, attacker, e.clock.Now().Add(-time.Hour))
	if err != nil || row.Count != domain.DefaultLockoutThreshold {
		t.Fatalf("attacker's count = %d (%v), want %d", row.Count, err, domain.DefaultLockoutThreshold)
	}

	// The owner, from elsewhere, signs in; another account from the
	// attacker's address is not refused either.
	if err := signIn("alice", goodPassword, owner); err != nil {
		t.Fatalf("the owner from another address was refused: %v", err)
	}
	if err := signIn("bob", goodPassword, attacker); err != nil {
		t.Fatalf("another account from the refused address: %v", err)
	}
	_ = bob
	// The owner's success did not clear the attacker's refusal.
	if err := signIn("alice", goodPassword, attacker); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("the owner's success lifted the attacker's refusal: %v", err)
	}

	// An IPv6 attacker is counted by /64: a fresh interface id buys nothing.
	for i := range domain.DefaultLockoutThreshold {
		fail(fmt.Sprintf("2001:db8:aa:bb::%x", i+1))
	}
	if err := signIn("alice", goodPassword, "2001:db8:aa:bb:ffff::1"); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("another address of the refused /64 signed in: %v", err)
	}
	if err := signIn("alice", goodPassword, "2001:db8:aa:bc::1"); err != nil {
		t.Fatalf("the neighbouring /64 was refused: %v", err)
	}

	// Once the window has passed since the last counted failure, the
	// address gets its tries back.
	e.clock.Advance(domain.DefaultLockoutDuration - time.Second)
	if err := signIn("alice", goodPassword, attacker); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("a second before the window's end: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	if err := signIn("alice", goodPassword, attacker); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestAccountWideLockout: failures spread over many addresses, each below
// its own threshold, lock the account for everyone at the account-wide
// threshold (a distributed attack), for LockoutDuration.
func TestAccountWideLockout(t *testing.T) {
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(c.Now))
	svc := domain.NewService(st, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:       c.Now, LockoutThreshold: 3, AccountLockoutThreshold: 10,
	})
	e := &env{t: t, ctx: context.Background(), clock: c, store: st, svc: svc}
	u := e.user("alice", "user")
	for i := range 9 {
		if _, err := svc.Authenticate(e.ctx, "alice", "wrong password", fmt.Sprintf("192.0.2.%d", i/2+1)); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	if s, _ := svc.GetUser(e.ctx, u.ID); s.LockedUntil != nil || s.FailedLogins != 9 {
		t.Fatalf("below the account threshold: locked_until %v, failed_logins %d", s.LockedUntil, s.FailedLogins)
	}
	before := e.lastID()
	if _, err := svc.Authenticate(e.ctx, "alice", "wrong password", "192.0.2.99"); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	entries := e.since(before)
	if len(entries) != 2 || entries[0].Action != "login.failure" || entries[1].Action != "user.lock" ||
		entries[1].ActorType != store.ActorSystem || entries[1].TargetID != u.ID {
		t.Fatalf("entries = %+v", entries)
	}
	locked, _ := svc.GetUser(e.ctx, u.ID)
	if locked.LockedUntil == nil || !locked.LockedUntil.Equal(c.Now().Add(domain.DefaultLockoutDuration)) {
		t.Fatalf("LockedUntil = %v", locked.LockedUntil)
	}
	// Now nobody gets in, from anywhere, and attempts do not extend it.
	for _, ip := range []string{"198.51.100.7", "192.0.2.99", ""} {
		if _, err := svc.Authenticate(e.ctx, "alice", goodPassword, ip); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("signed in from %q while the account is locked: %v", ip, err)
		}
	}
	if again, _ := svc.GetUser(e.ctx, u.ID); !again.LockedUntil.Equal(*locked.LockedUntil) {
		t.Fatalf("attempts while locked changed the lock: %v", again.LockedUntil)
	}
	// After the lock, the right password works and clears it.
	c.Advance(domain.DefaultLockoutDuration)
	got, err := svc.Authenticate(e.ctx, "alice", goodPassword, "198.51.100.7")
	if err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	if got.LockedUntil != nil || got.FailedLogins != 0 {
		t.Fatalf("lockout not cleared: %+v", got)
	}
}

// TestAccountThresholdOff: a negative AccountLockoutThreshold never locks
// the account, however many addresses fail.
func TestAccountThresholdOff(t *testing.T) {
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(c.Now))
	svc := domain.NewService(st, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:       c.Now, LockoutThreshold: 2, AccountLockoutThreshold: -1,
	})
	e := &env{t: t, ctx: context.Background(), clock: c, store: st, svc: svc}
	u := e.user("alice", "user")
	for i := range 300 {
		_, _ = svc.Authenticate(e.ctx, "alice", "wrong password", fmt.Sprintf("10.0.%d.%d", i/200, i%200))
	}
	if s, _ := svc.GetUser(e.ctx, u.ID); s.LockedUntil != nil {
		t.Fatalf("locked with the account-wide threshold off: %v", s.LockedUntil)
	}
	if _, err := svc.Authenticate(e.ctx, "alice", goodPassword, "198.51.100.7"); err != nil {
		t.Fatal(err)
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

// TestParallelGuessesStopAtThreshold: guesses sent at once from one address
// (each waits on a hash) get no more than login.max_failures password
// checks that count; the rest are refused without being counted.
func TestParallelGuessesStopAtThreshold(t *testing.T) {
	e := newEnv(t)
	u := e.user("alice", "user")
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = e.svc.Authenticate(e.ctx, "alice", "wrong password", "203.0.113.66")
		}()
	}
	wg.Wait()
	got, _ := e.svc.GetUser(e.ctx, u.ID)
	if got.FailedLogins != domain.DefaultLockoutThreshold {
		t.Errorf("%d parallel guesses: %d counted wrong passwords, want %d", n, got.FailedLogins, domain.DefaultLockoutThreshold)
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, "203.0.113.66"); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("the address signed in after its parallel guesses: %v", err)
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, "198.51.100.7"); err != nil {
		t.Errorf("the owner from elsewhere: %v", err)
	}
}
