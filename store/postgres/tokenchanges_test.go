package postgres_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
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
