package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var concurrencyTests = []subtest{
	{"CodeRedeemedOnce", testConcurrentCodeRedemption},
	{"CodeRedeemedOnceInTx", testConcurrentCodeRedemptionInTx},
	{"RefreshRotationSerialized", testConcurrentRefreshRotation},
	{"KeyRotationCompareAndSwap", testConcurrentKeyRotation},
	{"UniqueUsername", testConcurrentUsername},
}

// holdWindow is how long the goroutine that finds a code or refresh token
// active keeps its transaction open before using it. It widens the window in
// which a backend that does not lock the row would let the others read the
// token as active too; with the lock they simply wait. It is no threshold.
const holdWindow = 20 * time.Millisecond

// concurrentDeadline bounds every concurrent test, so that a deadlock fails
// the test instead of hanging it.
const concurrentDeadline = 10 * time.Second

// concurrently runs fn in n goroutines released at the same moment and
// returns their errors by index.
func (f *fixture) concurrently(n int, fn func(ctx context.Context, i int) error) []error {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(f.ctx, concurrentDeadline)
	defer cancel()
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(ctx, i)
		})
	}
	close(start)
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * concurrentDeadline):
		// The goroutines ignored their deadline: the backend is stuck.
		f.t.Fatalf("%d goroutines still running %s after their deadline: deadlock", n, concurrentDeadline)
	}
	if ctx.Err() != nil {
		f.t.Errorf("the concurrent operations ran into their %s deadline (deadlock or lock wait)", concurrentDeadline)
	}
	return errs
}

// countErrors counts nil results and errors matching want, and reports any
// other error.
func (f *fixture) countErrors(what string, errs []error, want error) (ok, matched int) {
	f.t.Helper()
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			f.t.Errorf("%s: goroutine %d: unexpected error %v", what, i, err)
		}
	}
	return ok, matched
}

func testConcurrentCodeRedemption(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	code := f.createToken(store.KindAuthorizeCode, newGrant(c, u, ""))

	errs := f.concurrently(10, func(ctx context.Context, _ int) error {
		return f.s.DeactivateToken(ctx, code.Kind, code.Signature)
	})
	ok, notFound := f.countErrors("DeactivateToken", errs, store.ErrNotFound)
	if ok != 1 || notFound != 9 {
		f.t.Errorf("10 concurrent DeactivateToken: %d succeeded and %d got ErrNotFound, want 1 and 9", ok, notFound)
	}
	f.wantTokenState(code, "inactive", "code after concurrent redemption")
}

// fosite invalidates the code inside the transaction of the token request.
func testConcurrentCodeRedemptionInTx(f *fixture) {
	c := f.createClient()
	u := f.createUser()
	g := newGrant(c, u, "")
	code := f.createToken(store.KindAuthorizeCode, g)
	access := make([]store.Token, 10)
	for i := range access {
		access[i] = f.newToken(store.KindAccessToken, g)
	}

	errs := f.concurrently(10, func(ctx context.Context, i int) error {
		return store.InTx(ctx, f.s, func(ctx context.Context) error {
			tok, err := f.s.GetToken(ctx, code.Kind, code.Signature)
			if err != nil {
				return fmt.Errorf("GetToken: %w", err)
			}
			if tok.Active {
				time.Sleep(holdWindow)
			}
			if err := f.s.DeactivateToken(ctx, code.Kind, code.Signature); err != nil {
				return fmt.Errorf("DeactivateToken: %w", err)
			}
			if err := f.s.CreateToken(ctx, access[i]); err != nil {
				return fmt.Errorf("CreateToken: %w", err)
			}
			return nil
		})
	})
	ok, notFound := f.countErrors("redeem in tx", errs, store.ErrNotFound)
	if ok != 1 || notFound != 9 {
		f.t.Errorf("10 concurrent redemptions in tx: %d succeeded and %d got ErrNotFound, want 1 and 9", ok, notFound)
	}
	issued := 0
	for i, tok := range access {
		state := f.tokenState(tok)
		if (state == "active") != (errs[i] == nil) {
			f.t.Errorf("goroutine %d: returned %v but its access token is %s", i, errs[i], state)
		}
		if state == "active" {
			issued++
		}
	}
	if issued != 1 {
		f.t.Errorf("%d access tokens issued for one code, want 1", issued)
	}
}

// Every goroutine runs the refresh-token rotation of fosite's refresh
// handler. GetToken locks the row inside the transaction, so the others
// wait and then see the token inactive; none races past the check.
func testConcurrentRefreshRotation(f *fixture) {
	const n = 8
	c := f.createClient()
	u := f.createUser()
	sess := f.createSession(u.ID)
	g := newGrant(c, u, sess.ID)
	old := f.createToken(store.KindRefreshToken, g)
	next := make([]store.Token, n)
	for i := range next {
		next[i] = f.newToken(store.KindRefreshToken, g)
	}

	rotated := make([]bool, n)
	sawInactive := make([]bool, n)
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		tx, err := f.s.BeginTx(ctx)
		if err != nil {
			return fmt.Errorf("BeginTx: %w", err)
		}
		defer func() { _ = f.s.Rollback(tx) }()
		tok, err := f.s.GetToken(tx, store.KindRefreshToken, old.Signature)
		if err != nil {
			return fmt.Errorf("GetToken: %w", err)
		}
		if tok.Active {
			time.Sleep(holdWindow)
			if err := f.s.DeactivateToken(tx, store.KindRefreshToken, old.Signature); err != nil {
				return fmt.Errorf("DeactivateToken: %w", err)
			}
			if err := f.s.CreateToken(tx, next[i]); err != nil {
				return fmt.Errorf("CreateToken: %w", err)
			}
			rotated[i] = true
		} else {
			sawInactive[i] = true
		}
		if err := f.s.Commit(tx); err != nil {
			return fmt.Errorf("Commit: %w", err)
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			f.t.Errorf("goroutine %d: %v", i, err)
		}
	}
	nRotated, nInactive := 0, 0
	for i := range n {
		if rotated[i] {
			nRotated++
		}
		if sawInactive[i] {
			nInactive++
		}
	}
	if nRotated != 1 || nInactive != n-1 {
		f.t.Errorf("%d goroutines rotated and %d saw the token inactive, want 1 and %d", nRotated, nInactive, n-1)
	}
	f.wantTokenState(old, "inactive", "rotated refresh token")
	for i, tok := range next {
		want := "missing"
		if rotated[i] {
			want = "active"
		}
		f.wantTokenState(tok, want, "new refresh token of goroutine %d", i)
	}
}

func testConcurrentKeyRotation(f *fixture) {
	active := f.newSigningKey(store.KeyActive, 2*time.Hour)
	next := f.newSigningKey(store.KeyNext, time.Hour)
	f.must(f.s.AddSigningKey(f.ctx, active), "AddSigningKey active")
	f.must(f.s.AddSigningKey(f.ctx, next), "AddSigningKey next")
	newNext := []store.SigningKey{f.newSigningKey(store.KeyNext, 0), f.newSigningKey(store.KeyNext, 0)}
	retireUntil := f.at(24 * time.Hour)

	errs := f.concurrently(2, func(ctx context.Context, i int) error {
		return f.s.RotateSigningKeys(ctx, active.ID, next.ID, newNext[i], retireUntil)
	})
	ok, conflicts := f.countErrors("RotateSigningKeys", errs, store.ErrConflict)
	if ok != 1 || conflicts != 1 {
		f.t.Fatalf("2 concurrent RotateSigningKeys: %d succeeded and %d got ErrConflict, want 1 and 1", ok, conflicts)
	}
	winner := newNext[0]
	if errs[0] != nil {
		winner = newNext[1]
	}
	keys, err := f.s.ListSigningKeys(f.ctx)
	f.must(err, "ListSigningKeys")
	states := map[string]store.KeyState{}
	for _, k := range keys {
		states[k.ID] = k.State
	}
	want := map[string]store.KeyState{active.ID: store.KeyRetired, next.ID: store.KeyActive, winner.ID: store.KeyNext}
	f.equal("key states after concurrent rotation", states, want)
}

func testConcurrentUsername(f *fixture) {
	const n = 6
	users := make([]store.User, n)
	for i := range users {
		users[i] = f.newUser()
		if i > 0 {
			users[i].Username = users[0].Username
		}
		if i%2 == 1 {
			users[i].Username = strings.ToUpper(users[i].Username)
		}
	}
	errs := f.concurrently(n, func(ctx context.Context, i int) error {
		return f.s.CreateUser(ctx, users[i])
	})
	ok, conflicts := f.countErrors("CreateUser", errs, store.ErrConflict)
	if ok != 1 || conflicts != n-1 {
		f.t.Errorf("%d concurrent CreateUser with one username: %d succeeded and %d got ErrConflict, want 1 and %d", n, ok, conflicts, n-1)
	}
	list, err := f.s.ListUsers(f.ctx, store.UserFilter{})
	f.must(err, "ListUsers")
	if len(list) != 1 {
		f.t.Errorf("ListUsers after concurrent creation: %d users, want 1", len(list))
	}
}
