package domain_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// countingHasher is bcrypt, counting the hashes it computes.
type countingHasher struct{ n atomic.Int64 }

func (c *countingHasher) GenerateFromPassword(p []byte, cost int) ([]byte, error) {
	c.n.Add(1)
	return bcrypt.GenerateFromPassword(p, cost)
}

func (c *countingHasher) CompareHashAndPassword(h, p []byte) error {
	c.n.Add(1)
	return bcrypt.CompareHashAndPassword(h, p)
}

// TestEveryRefusalCostsOneHash: a sign-in is refused after exactly one
// password hash whoever it names (an unknown user, a known one, by username
// or email, locked, disabled, without a password, a name that is not even
// text) and whatever the password's length: counting hashes rather than
// timing them, no refusal comes sooner for some users than for others.
func TestEveryRefusalCostsOneHash(t *testing.T) {
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(clock.Now))
	hashes := &countingHasher{}
	svc := domain.NewService(st, domain.Options{
		Passwords:        domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8, Hasher: hashes},
		Now:              clock.Now,
		LockoutThreshold: 3,
		// Six failures from six addresses lock the account for everyone.
		AccountLockoutThreshold: 6,
	})
	newUser := func(name string) store.User {
		t.Helper()
		u, err := svc.CreateUser(ctx, admin, domain.NewUser{
			Username: name, Email: name + "@example.com", Password: goodPassword, Roles: []string{"user"},
		})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		return u
	}
	newUser("known")
	temporarily := newUser("temporarily")
	for i := range 6 {
		_, _ = svc.Authenticate(ctx, "temporarily", "wrong password", fmt.Sprintf("203.0.113.%d", i))
	}
	if u, _ := svc.GetUser(ctx, temporarily.ID); u.LockedUntil == nil {
		t.Fatal("the account-wide lockout did not lock")
	}
	// Refused at the address every case comes from, not locked.
	throttled := newUser("throttled")
	for range 3 {
		_, _ = svc.Authenticate(ctx, "throttled", "wrong password", "192.0.2.7")
	}
	if u, _ := svc.GetUser(ctx, throttled.ID); u.LockedUntil != nil {
		t.Fatal("three failures from one address locked the account")
	}
	locked := newUser("locked")
	if _, err := svc.SetUserStatus(ctx, domain.Operator(admin), locked.ID, store.StatusLocked); err != nil {
		t.Fatal(err)
	}
	disabled := newUser("disabled")
	if _, err := svc.SetUserStatus(ctx, domain.Operator(admin), disabled.ID, store.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, admin, domain.NewUser{Username: "upstream", Email: "upstream@example.com", Roles: []string{"user"}}); err != nil {
		t.Fatal(err)
	}

	long := strings.Repeat("p", 73)    // one byte over bcrypt's limit
	huge := strings.Repeat("p", 1<<20) // far over it
	cases := []struct{ name, username, password string }{
		{"unknown username", "nobody", "wrong password"},
		{"unknown email", "nobody@example.com", "wrong password"},
		{"known username, wrong password", "known", "wrong password"},
		{"known email, wrong password", "known@example.com", "wrong password"},
		{"known username, password over 72 bytes", "known", long},
		{"known email, password over 72 bytes", "known@example.com", long},
		{"unknown username, password over 72 bytes", "nobody", long},
		{"unknown email, password over 72 bytes", "nobody@example.com", long},
		{"known username, 1 MiB password", "known", huge},
		{"unknown username, 1 MiB password", "nobody", huge},
		{"known username, right password cut to 72 bytes", "known", goodPassword + strings.Repeat(" ", 72)},
		{"locked out for a while, right password", "temporarily", goodPassword},
		{"locked out for a while, password over 72 bytes", "temporarily", long},
		{"refused at this address, right password", "throttled", goodPassword},
		{"refused at this address, wrong password", "throttled", "wrong password"},
		{"refused at this address, by email", "throttled@example.com", goodPassword},
		{"locked by an admin, right password", "locked", goodPassword},
		{"locked by an admin, by email", "locked@example.com", goodPassword},
		{"disabled, right password", "disabled", goodPassword},
		{"no password (upstream sign-in only)", "upstream", goodPassword},
		{"a name with NUL", "kno\x00wn", goodPassword},
		{"a name that is not UTF-8", "\xffknown", goodPassword},
		{"an email with NUL", "known\x00@example.com", goodPassword},
		{"a 1 MiB name", strings.Repeat("k", 1<<20), goodPassword},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hashes.n.Load()
			_, err := svc.Authenticate(ctx, tc.username, tc.password, "192.0.2.7")
			if !errors.Is(err, domain.ErrInvalidCredentials) {
				t.Fatalf("err = %v, want ErrInvalidCredentials", err)
			}
			if n := hashes.n.Load() - before; n != 1 {
				t.Errorf("the refusal cost %d password hashes, want 1 (like every other refusal)", n)
			}
		})
	}

	// A success costs one too (no re-hash: the hash has the configured cost).
	newUser("fresh")
	before := hashes.n.Load()
	if _, err := svc.Authenticate(ctx, "fresh", goodPassword, ""); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if n := hashes.n.Load() - before; n != 1 {
		t.Errorf("a sign-in cost %d hashes, want 1", n)
	}
}
