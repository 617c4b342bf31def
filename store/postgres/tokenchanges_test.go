package postgres_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// Every revocation of access tokens is announced, by grant, user or login
// session, once committed (and never when rolled back); this process's
// observers hear of it as it is written. Revocations of other kinds of
// token, which introspection does not cache, are not announced.
func TestTokenRevocationsAreAnnounced(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	var mu sync.Mutex
	var observed []store.ChangeEvent
	s.ObserveTokenChanges(func(e store.ChangeEvent) {
		mu.Lock()
		observed = append(observed, e)
		mu.Unlock()
	})
	takeObserved := func() []store.ChangeEvent {
		mu.Lock()
		defer mu.Unlock()
		out := observed
		observed = nil
		return out
	}
	l := startListening(t, s)
	if e := l.next(t); e.Kind != store.ChangeAll {
		t.Fatalf("first event = %+v, want ChangeAll", e)
	}
	if err := s.CreateClient(ctx, client("svc")); err != nil {
		t.Fatal(err)
	}
	if e := l.next(t); e.Kind != store.ChangeClient {
		t.Fatalf("event = %+v, want the client's", e)
	}
	uid := uuid.NewString()
	now := time.Now()
	if err := s.CreateUser(ctx, store.User{ID: uid, Username: "alice", Email: "alice@example.com",
		Status: store.StatusActive, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	token := func(kind store.TokenKind, sig string) {
		t.Helper()
		err := s.CreateToken(ctx, store.Token{Kind: kind, Signature: sig, RequestID: "g1", ClientID: "svc",
			Subject: uid, UserID: uid, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Active: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	token(store.KindAccessToken, "at1")
	token(store.KindRefreshToken, "rt1")

	grant := store.ChangeEvent{Kind: store.ChangeGrantTokens, ID: "g1"}
	user := store.ChangeEvent{Kind: store.ChangeUserTokens, ID: uid}
	tests := []struct {
		name     string
		write    func() error
		want     store.ChangeEvent
		observed []store.ChangeEvent
	}{
		{"refresh tokens revoked: not announced", func() error {
			if err := s.DeactivateTokensByRequest(ctx, store.KindRefreshToken, "g1"); err != nil {
				return err
			}
			return s.DeactivateTokensByRequest(ctx, store.KindAccessToken, "g1")
		}, grant, []store.ChangeEvent{grant}},
		{"access tokens deleted", func() error { return s.DeleteTokensByRequest(ctx, store.KindAccessToken, "g1") }, grant, []store.ChangeEvent{grant}},
		{"one access token deleted", func() error {
			token(store.KindAccessToken, "at2")
			return s.DeleteToken(ctx, store.KindAccessToken, "at2")
		}, grant, []store.ChangeEvent{grant}},
		{"grant revoked", func() error { return s.RevokeGrant(ctx, "g1") }, grant, []store.ChangeEvent{grant}},
		{"rolled back: observed, not announced", func() error {
			txCtx, err := s.BeginTx(ctx)
			if err != nil {
				return err
			}
			if err := s.DeleteTokensByRequest(txCtx, store.KindAccessToken, "g1"); err != nil {
				return err
			}
			if err := s.Rollback(txCtx); err != nil {
				return err
			}
			_, err = s.RevokeGrantsByUser(ctx, uid, "")
			return err
		}, user, []store.ChangeEvent{grant, user}},
		{"session's grants revoked", func() error {
			_, err := s.RevokeGrantsBySession(ctx, "sess-1")
			return err
		}, store.ChangeEvent{Kind: store.ChangeSessionTokens, ID: "sess-1"}, []store.ChangeEvent{{Kind: store.ChangeSessionTokens, ID: "sess-1"}}},
		{"user deleted", func() error { return s.DeleteUser(ctx, uid) }, user, []store.ChangeEvent{user}},
	}
	for _, tc := range tests {
		if err := tc.write(); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		if got := l.next(t); got != tc.want {
			t.Errorf("%s: announced %+v, want %+v", tc.name, got, tc.want)
		}
		if got := takeObserved(); !slices.Equal(got, tc.observed) {
			t.Errorf("%s: observed %+v, want %+v", tc.name, got, tc.observed)
		}
	}
	select {
	case e := <-l.events:
		t.Errorf("unexpected extra event %+v", e)
	case <-time.After(200 * time.Millisecond):
	}
}

// The barrier: a revocation returns only once every instance's listener
// has applied its notification, however slow one of them is; inside a
// transaction, once the transaction has committed.
func TestRevocationWaitsForEveryListener(t *testing.T) {
	// The bound is generous so that a loaded machine cannot pass the test
	// by running out of it: the timeout count says whether it did.
	a, b := twoInstances(t)
	ctx := t.Context()

	const slow = 300 * time.Millisecond
	var applied atomic.Int64 // grant_tokens events B has finished applying
	la := startListening(t, a)
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	bReady := make(chan struct{}, 1)
	go func() {
		done <- b.Listen(lctx, func(e store.ChangeEvent) {
			switch e.Kind {
			case store.ChangeAll:
				bReady <- struct{}{}
			case store.ChangeGrantTokens:
				time.Sleep(slow) // an instance busy elsewhere
				applied.Add(1)
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	if e := la.next(t); e.Kind != store.ChangeAll {
		t.Fatalf("first event = %+v", e)
	}
	<-bReady

	for _, tc := range []struct {
		name   string
		revoke func() error
	}{
		{"alone", func() error { return a.RevokeGrant(ctx, "no-such-grant") }},
		{"in a transaction", func() error {
			return store.InTx(ctx, a, func(ctx context.Context) error {
				return a.DeleteTokensByRequest(ctx, store.KindAccessToken, "g1")
			})
		}},
	} {
		before := applied.Load()
		err := tc.revoke()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if applied.Load() != before+1 {
			t.Errorf("%s: returned before the slow listener had applied it", tc.name)
		}
		if n := postgres.BarrierTimeouts(a); n != 0 {
			t.Errorf("%s: %d waits ran out: the acknowledgement was not seen", tc.name, n)
		}
		la.next(t)
	}

	// A revocation rolled back sends nothing, and waits for nothing: no
	// waiter is left, and the next event either listener hears is the
	// revocation made after it.
	before := applied.Load()
	txCtx, err := a.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteTokensByRequest(txCtx, store.KindAccessToken, "g1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Rollback(txCtx); err != nil {
		t.Fatal(err)
	}
	if n := postgres.BarrierWaiters(a); n != 0 {
		t.Errorf("rolled back: %d notifications still awaited", n)
	}
	if err := a.RevokeGrant(ctx, "after-the-rollback"); err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if got := applied.Load(); got != before+1 {
		t.Errorf("after a rollback and one revocation the listener applied %d, want 1", got-before)
	}
	if e := la.next(t); e.Kind != store.ChangeGrantTokens || e.ID != "after-the-rollback" {
		t.Errorf("next event %+v, want the revocation after the rollback", e)
	}
}

// twoInstances opens two stores on a database of their own, as two
// instances of gatehouse: a waits a minute at most for the listeners'
// acknowledgements, a bound no test should reach (the timeout count says
// whether one did).
func twoInstances(t *testing.T) (a, b *postgres.Store) {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	a, err := postgres.New(t.Context(), dbURL, postgres.WithBarrierWait(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	b, err = postgres.New(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return a, b
}
