package domain_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

func TestUserCanAct(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	for _, tc := range []struct {
		status              store.UserStatus
		expires, lockedTill *time.Time
		tokens, session     bool
	}{
		{status: store.StatusActive, tokens: true, session: true},
		{status: store.StatusActive, expires: &future, tokens: true, session: true},
		{status: store.StatusActive, expires: &past},
		{status: store.StatusActive, expires: &now}, // expiry is exclusive
		// A temporary lockout slows password guessing only: it must not
		// end what the real user holds.
		{status: store.StatusActive, lockedTill: &future, tokens: true, session: true},
		{status: store.StatusPending, session: true},
		{status: store.StatusPending, expires: &past},
		{status: store.StatusLocked},
		{status: store.StatusDisabled},
		{status: store.UserStatus("deleted")},
	} {
		u := store.User{Status: tc.status, ExpiresAt: tc.expires, LockedUntil: tc.lockedTill}
		name := fmt.Sprintf("%s expires=%v locked=%v", tc.status, tc.expires, tc.lockedTill)
		if got := domain.UserCanAct(u, now, domain.ActHoldTokens); got != tc.tokens {
			t.Errorf("%s: hold tokens = %v, want %v", name, got, tc.tokens)
		}
		if got := domain.UserCanAct(u, now, domain.ActKeepSession); got != tc.session {
			t.Errorf("%s: keep session = %v, want %v", name, got, tc.session)
		}
	}
}

func TestActiveUser(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice", "user")
	if got, err := e.svc.ActiveUser(e.ctx, alice.ID); err != nil || got.ID != alice.ID {
		t.Fatalf("ActiveUser(active) = %v, %v", got.ID, err)
	}
	pending := e.user("pat")
	if _, err := e.svc.ActiveUser(e.ctx, pending.ID); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("ActiveUser(pending) err = %v, want ErrUnauthenticated", err)
	}
	exp := e.clock.Now().Add(time.Minute)
	if _, err := e.svc.UpdateUser(e.ctx, domain.Operator(admin), alice.ID, domain.UserPatch{ExpiresAt: ptr(&exp)}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if _, err := e.svc.ActiveUser(e.ctx, alice.ID); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("ActiveUser(expired) err = %v, want ErrUnauthenticated", err)
	}
	if _, err := e.svc.ActiveUser(e.ctx, "00000000-0000-0000-0000-000000000001"); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("ActiveUser(unknown) err = %v, want ErrUnauthenticated", err)
	}
}

// TestSessionLifecycle: StartSession, CurrentSession and EndSession are the
// one place a browser session begins and ends, and each end revokes the
// session's grants and is audited.
func TestSessionLifecycle(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.user("alice", "user"), e.user("bob", "user")

	start := func(id string, u store.User, previous string) {
		t.Helper()
		ls, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: id, User: u, Previous: previous,
			UserAgent: string(make([]byte, 300)), IP: "198.51.100.7", Lifetime: time.Hour})
		if err != nil {
			t.Fatalf("StartSession(%s): %v", id, err)
		}
		if len(ls.UserAgent) > 256 {
			t.Errorf("user agent stored at %d bytes, want at most 256", len(ls.UserAgent))
		}
	}
	start("s-alice", alice, "")
	if ls, u, err := e.svc.CurrentSession(e.ctx, "s-alice"); err != nil || u.ID != alice.ID || ls.ID != "s-alice" {
		t.Fatalf("CurrentSession = %v %v %v", ls.ID, u.ID, err)
	}

	// The same person signing in again replaces the session but keeps the
	// tokens its clients hold.
	e.sessionWithToken(alice, "s-alice-2")
	start("s-alice-3", alice, "s-alice-2")
	if _, _, err := e.svc.CurrentSession(e.ctx, "s-alice-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("replaced session still current: %v", err)
	}
	if !e.tokenActive("s-alice-2") {
		t.Errorf("re-authenticating revoked the user's own tokens")
	}

	// Someone else signing in on the same browser ends the old session as
	// a logout would.
	e.sessionWithToken(alice, "s-shared")
	mark := e.lastID()
	start("s-bob", bob, "s-shared")
	if e.tokenActive("s-shared") {
		t.Errorf("the previous user's tokens survived another person's sign-in")
	}
	if got := e.since(mark); len(got) != 1 || got[0].Action != "logout" || got[0].ActorID != alice.ID || got[0].IPAddress != "198.51.100.7" {
		t.Errorf("audit after the switch = %+v, want one logout of alice from 198.51.100.7", got)
	}

	// EndSession: grants revoked, row gone, audited; also for a session past
	// its expiry; nothing for one that never existed.
	e.sessionWithToken(bob, "s-bob-2")
	e.clock.Advance(2 * time.Hour)
	mark = e.lastID()
	if err := e.svc.EndSession(e.ctx, "203.0.113.9", "s-bob-2"); err != nil {
		t.Fatal(err)
	}
	if e.tokenActive("s-bob-2") {
		t.Errorf("EndSession left the session's refresh token active")
	}
	if got := e.since(mark); len(got) != 1 || got[0].Action != "logout" || got[0].ActorID != bob.ID {
		t.Errorf("audit after EndSession = %+v, want one logout of bob", got)
	}
	mark = e.lastID()
	if err := e.svc.EndSession(e.ctx, "203.0.113.9", "never-was"); err != nil {
		t.Errorf("EndSession(unknown) = %v, want nil", err)
	}
	if got := e.since(mark); len(got) != 0 {
		t.Errorf("EndSession(unknown) audited %+v", got)
	}

	// A session whose user may no longer act is not current.
	start("s-alice-4", alice, "")
	if _, err := e.svc.SetUserStatus(e.ctx, domain.Operator(admin), alice.ID, store.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CurrentSession(e.ctx, "s-alice-4"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a disabled user's session is current: %v", err)
	}
	if _, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: "s-x", User: store.User{ID: alice.ID, Status: store.StatusDisabled}, Lifetime: time.Hour}); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Errorf("StartSession for a disabled user = %v, want ErrUnauthenticated", err)
	}
}

func TestConsentRules(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice", "user")
	q := domain.ConsentQuestion{UserID: alice.ID, ClientID: "rp", Scopes: []string{"openid", "email"}}
	ask := func(q domain.ConsentQuestion) bool {
		t.Helper()
		needed, err := e.svc.ConsentNeeded(e.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return needed
	}
	e.sessionWithToken(alice, "s1") // creates the client rp
	if !ask(q) {
		t.Fatal("no consent remembered, yet none needed")
	}
	first := q
	first.FirstParty, first.Prompted = true, true
	if ask(first) {
		t.Error("a first-party client asked for consent")
	}
	if err := e.svc.GrantConsent(e.ctx, alice.ID, "rp", []string{"openid", "email"}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.GrantConsent(e.ctx, alice.ID, "rp", []string{"profile"}); err != nil {
		t.Fatal(err)
	}
	if ask(q) {
		t.Error("consent asked again for scopes already granted (grants must merge)")
	}
	prompted := q
	prompted.Prompted = true
	if !ask(prompted) {
		t.Error("prompt=consent did not ask")
	}
	more := q
	more.Scopes = append(more.Scopes, "offline_access")
	if !ask(more) {
		t.Error("a new scope did not ask")
	}
}
