package domain_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// outcomes records what the service reports of each sign-in.
type outcomes struct {
	mu   sync.Mutex
	seen []string
}

func (o *outcomes) SignIn(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, outcome)
}

func (o *outcomes) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.seen
	o.seen = nil
	return s
}

// Every Authenticate is reported once, with the outcome an operator wants
// to tell apart; callers still see one ErrInvalidCredentials for every
// refusal.
func TestAuthenticateReportsItsOutcome(t *testing.T) {
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	rec := &outcomes{}
	svc := domain.NewService(memory.New(memory.WithClock(c.Now)), domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		// Two failures refuse the address and lock the account: both
		// refusals are "locked".
		Now: c.Now, SignIns: rec, LockoutThreshold: 2, AccountLockoutThreshold: 2,
	})
	e := &env{t: t, ctx: context.Background(), clock: c, svc: svc}
	active := e.user("alice", "user")
	e.user("penny") // no roles: pending
	locked := e.user("lucy", "user")
	if _, err := svc.SetUserStatus(e.ctx, domain.Operator(admin), locked.ID, store.StatusLocked); err != nil {
		t.Fatal(err)
	}
	gone := e.user("dora", "user")
	if err := svc.DeleteUser(e.ctx, domain.Operator(admin), gone.ID, false); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		login, password, want string
	}{
		{"alice", goodPassword, domain.SignInSuccess},
		{"penny", goodPassword, domain.SignInPending},
		{"nobody", goodPassword, domain.SignInFailure},
		{"dora", goodPassword, domain.SignInFailure}, // disabled
		{"lucy", goodPassword, domain.SignInLocked},  // locked by an admin
		{"alice", "wrong", domain.SignInFailure},     // 1 of 2
		{"alice", "wrong", domain.SignInFailure},     // 2 of 2: locks her out
		{"alice", goodPassword, domain.SignInLocked}, // while locked out
		{"alice", "wrong", domain.SignInLocked},      // while locked out
	}
	for _, s := range steps {
		_, err := svc.Authenticate(e.ctx, s.login, s.password, "")
		if s.want == domain.SignInSuccess || s.want == domain.SignInPending {
			if err != nil {
				t.Fatalf("%s: %v", s.login, err)
			}
		} else if err != domain.ErrInvalidCredentials { // the sentinel itself: the locked-out marker must not leak
			t.Fatalf("%s/%s: error %v, want exactly ErrInvalidCredentials", s.login, s.password, err)
		}
		if got := rec.take(); !slices.Equal(got, []string{s.want}) {
			t.Errorf("%s/%s reported %v, want [%s]", s.login, s.password, got, s.want)
		}
	}
	if u, _ := svc.GetUser(e.ctx, active.ID); u.LockedUntil == nil {
		t.Fatal("alice is not locked out: the steps above tested nothing")
	}
}

// A sign-in the store cannot answer is an error, not a failure: an alert on
// failures must not fire for a database outage, nor hide it.
func TestAuthenticateReportsStoreErrors(t *testing.T) {
	st, err := postgres.New(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	rec := &outcomes{}
	svc := domain.NewService(st, domain.Options{SignIns: rec})
	st.Close()
	_, err = svc.Authenticate(context.Background(), "alice", goodPassword, "")
	if err == nil || errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("Authenticate on a closed store: %v, want a store error", err)
	}
	if got := rec.take(); !slices.Equal(got, []string{domain.SignInError}) {
		t.Errorf("reported %v, want [error]", got)
	}
}
