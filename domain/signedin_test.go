package domain_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// readCounter counts the session reads of the store under it.
type readCounter struct {
	store.Store
	mu     sync.Mutex
	counts map[string]int
}

func (c *readCounter) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[name]++
}

func (c *readCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counts
	c.counts = map[string]int{}
	return out
}

func (c *readCounter) GetSignedIn(ctx context.Context, id, clientID string, now time.Time) (store.SignedIn, error) {
	c.count("GetSignedIn")
	return c.Store.GetSignedIn(ctx, id, clientID, now)
}

func (c *readCounter) GetLoginSession(ctx context.Context, id string, now time.Time) (store.LoginSession, error) {
	c.count("GetLoginSession")
	return c.Store.GetLoginSession(ctx, id, now)
}

func (c *readCounter) GetUser(ctx context.Context, id string) (store.User, error) {
	c.count("GetUser")
	return c.Store.GetUser(ctx, id)
}

func (c *readCounter) GetConsent(ctx context.Context, userID, clientID string, now time.Time) (store.Consent, error) {
	c.count("GetConsent")
	return c.Store.GetConsent(ctx, userID, clientID, now)
}

func (c *readCounter) TouchLoginSession(ctx context.Context, id string, at time.Time) error {
	c.count("TouchLoginSession")
	return c.Store.TouchLoginSession(ctx, id, at)
}

// signedInEnv is newEnv with a service over a readCounter, consents that
// last a day, and an idle timeout of an hour.
func signedInEnv(t *testing.T) (*env, *domain.Service, *readCounter) {
	e := newEnv(t)
	rc := &readCounter{Store: e.store, counts: map[string]int{}}
	svc := domain.NewService(rc, domain.Options{
		Passwords:          domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:                e.clock.Now,
		ConsentLifetime:    24 * time.Hour,
		SessionIdleTimeout: time.Hour,
	})
	return e, svc, rc
}

func (e *env) startSession(svc *domain.Service, u store.User, id string) {
	e.t.Helper()
	if _, err := svc.StartSession(e.ctx, domain.NewSession{ID: id, User: u, Lifetime: 48 * time.Hour}); err != nil {
		e.t.Fatalf("StartSession(%s): %v", id, err)
	}
}

// TestCurrentSessionForReadsOnce: the session, its user and the consent
// are one store read, and ConsentNeeded given what it read reads nothing
// more; the session is touched as CurrentSession touches it.
func TestCurrentSessionForReadsOnce(t *testing.T) {
	e, svc, rc := signedInEnv(t)
	alice := e.user("alice", "user")
	e.client("rp", "RP", false)
	e.startSession(svc, alice, "s1")
	if err := svc.GrantConsent(e.ctx, alice.ID, "rp", []string{"openid", "email"}); err != nil {
		t.Fatal(err)
	}
	rc.take()

	got, err := svc.CurrentSessionFor(e.ctx, "s1", "rp")
	if err != nil {
		t.Fatalf("CurrentSessionFor: %v", err)
	}
	if got.Session.ID != "s1" || got.User.ID != alice.ID || got.Consent == nil {
		t.Fatalf("CurrentSessionFor = session %q, user %q, consent %v; want s1, alice, a read", got.Session.ID, got.User.ID, got.Consent)
	}
	needed, err := svc.ConsentNeeded(e.ctx, domain.ConsentQuestion{UserID: alice.ID, ClientID: "rp", Scopes: []string{"openid"}, Read: got.Consent})
	if err != nil || needed {
		t.Fatalf("ConsentNeeded with the consent read = %v, %v; want false", needed, err)
	}
	if c := rc.take(); len(c) != 1 || c["GetSignedIn"] != 1 {
		t.Errorf("store reads of CurrentSessionFor and ConsentNeeded = %v, want one GetSignedIn", c)
	}

	// CurrentSession is the same read, without a consent.
	ls, u, err := svc.CurrentSession(e.ctx, "s1")
	if err != nil || ls.ID != "s1" || u.ID != alice.ID {
		t.Fatalf("CurrentSession = %q, %q, %v", ls.ID, u.ID, err)
	}
	if c := rc.take(); len(c) != 1 || c["GetSignedIn"] != 1 {
		t.Errorf("store reads of CurrentSession = %v, want one GetSignedIn", c)
	}
	if got, err := svc.CurrentSessionFor(e.ctx, "s1", ""); err != nil || got.Consent != nil {
		t.Errorf("CurrentSessionFor without a client = consent %v, %v; want none", got.Consent, err)
	}
	rc.take()

	// The touch: not within touchEvery (5 minutes), once past it, and
	// the session's LastSeenAt moves.
	e.clock.Advance(4 * time.Minute)
	if _, err := svc.CurrentSessionFor(e.ctx, "s1", "rp"); err != nil {
		t.Fatal(err)
	}
	if c := rc.take(); c["TouchLoginSession"] != 0 {
		t.Errorf("touched after 4 minutes: %v", c)
	}
	e.clock.Advance(2 * time.Minute)
	if _, err := svc.CurrentSessionFor(e.ctx, "s1", "rp"); err != nil {
		t.Fatal(err)
	}
	if c := rc.take(); c["TouchLoginSession"] != 1 {
		t.Errorf("store calls after 6 minutes = %v, want one TouchLoginSession", c)
	}
	stored, err := e.store.GetLoginSession(e.ctx, "s1", e.clock.Now())
	if err != nil || !stored.LastSeenAt.Equal(e.clock.Now()) {
		t.Errorf("LastSeenAt = %v, %v; want %v", stored.LastSeenAt, err, e.clock.Now())
	}
	got, err = svc.CurrentSessionFor(e.ctx, "s1", "rp")
	if err != nil {
		t.Fatal(err)
	}
	if c := rc.take(); c["TouchLoginSession"] != 0 {
		t.Errorf("touched again at once: %v", c)
	}
	if !got.Session.LastSeenAt.Equal(e.clock.Now()) {
		t.Errorf("the session read after the touch has LastSeenAt %v, want %v", got.Session.LastSeenAt, e.clock.Now())
	}
}

// TestConsentReadDecidesAsConsentNeeded: for every case of the consent
// rules, ConsentNeeded given the consent read with the session decides
// what it decides reading the store itself.
func TestConsentReadDecidesAsConsentNeeded(t *testing.T) {
	for _, tc := range []struct {
		name      string
		granted   []string // nil: no consent
		advance   time.Duration
		q         domain.ConsentQuestion
		wantAsked bool
	}{
		{"no consent", nil, 0, domain.ConsentQuestion{Scopes: []string{"openid"}}, true},
		{"covered", []string{"openid", "email"}, 0, domain.ConsentQuestion{Scopes: []string{"openid"}}, false},
		{"covered exactly", []string{"openid", "email"}, 0, domain.ConsentQuestion{Scopes: []string{"email", "openid"}}, false},
		{"a scope more", []string{"openid"}, 0, domain.ConsentQuestion{Scopes: []string{"openid", "offline_access"}}, true},
		{"prompt=consent", []string{"openid"}, 0, domain.ConsentQuestion{Scopes: []string{"openid"}, Prompted: true}, true},
		{"first party, no consent", nil, 0, domain.ConsentQuestion{Scopes: []string{"openid"}, FirstParty: true}, false},
		{"first party, prompted", nil, 0, domain.ConsentQuestion{Scopes: []string{"openid"}, FirstParty: true, Prompted: true}, false},
		{"expired", []string{"openid"}, 25 * time.Hour, domain.ConsentQuestion{Scopes: []string{"openid"}}, true},
		{"not yet expired", []string{"openid"}, 23 * time.Hour, domain.ConsentQuestion{Scopes: []string{"openid"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, svc, rc := signedInEnv(t)
			alice := e.user("alice", "user")
			e.client("rp", "RP", false)
			if tc.granted != nil {
				if err := svc.GrantConsent(e.ctx, alice.ID, "rp", tc.granted); err != nil {
					t.Fatal(err)
				}
			}
			e.clock.Advance(tc.advance)
			e.startSession(svc, alice, "s1")
			got, err := svc.CurrentSessionFor(e.ctx, "s1", "rp")
			if err != nil {
				t.Fatal(err)
			}
			q := tc.q
			q.UserID, q.ClientID = alice.ID, "rp"
			own, err := svc.ConsentNeeded(e.ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			rc.take()
			q.Read = got.Consent
			given, err := svc.ConsentNeeded(e.ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if own != tc.wantAsked || given != tc.wantAsked {
				t.Errorf("ConsentNeeded reading the store = %v, given the read = %v; want %v", own, given, tc.wantAsked)
			}
			if c := rc.take(); c["GetConsent"] != 0 {
				t.Errorf("ConsentNeeded given the read read the store: %v", c)
			}
		})
	}
}

// TestConsentReadOnlyForItsQuestion: a consent read for one client or
// user is never taken for another's, and one read before its expiry does
// not outlive it.
func TestConsentReadOnlyForItsQuestion(t *testing.T) {
	e, svc, rc := signedInEnv(t)
	alice, bob := e.user("alice", "user"), e.user("bob", "user")
	e.client("rp", "RP", false)
	e.client("other", "Other", false)
	e.startSession(svc, alice, "s-alice")
	if err := svc.GrantConsent(e.ctx, alice.ID, "rp", []string{"openid", "email"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.GrantConsent(e.ctx, bob.ID, "other", []string{"openid"}); err != nil {
		t.Fatal(err)
	}
	covered, err := svc.CurrentSessionFor(e.ctx, "s-alice", "rp")
	if err != nil || covered.Consent == nil {
		t.Fatal(covered.Consent, err)
	}
	none, err := svc.CurrentSessionFor(e.ctx, "s-alice", "other")
	if err != nil || none.Consent == nil {
		t.Fatal(none.Consent, err)
	}
	ask := func(q domain.ConsentQuestion) (bool, map[string]int) {
		t.Helper()
		rc.take()
		needed, err := svc.ConsentNeeded(e.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return needed, rc.take()
	}

	// alice's consent to rp, offered for alice at other: other's own
	// answer (none), read from the store.
	if needed, c := ask(domain.ConsentQuestion{UserID: alice.ID, ClientID: "other", Scopes: []string{"openid"}, Read: covered.Consent}); !needed || c["GetConsent"] != 1 {
		t.Errorf("another client's read: needed %v, reads %v; want asked, one GetConsent", needed, c)
	}
	// alice's consent to rp, offered for bob at rp: bob has none.
	if needed, c := ask(domain.ConsentQuestion{UserID: bob.ID, ClientID: "rp", Scopes: []string{"openid"}, Read: covered.Consent}); !needed || c["GetConsent"] != 1 {
		t.Errorf("another user's read: needed %v, reads %v; want asked, one GetConsent", needed, c)
	}
	// alice's "none" at other, offered for bob at other, who consented.
	if needed, c := ask(domain.ConsentQuestion{UserID: bob.ID, ClientID: "other", Scopes: []string{"openid"}, Read: none.Consent}); needed || c["GetConsent"] != 1 {
		t.Errorf("another user's empty read: needed %v, reads %v; want not asked, one GetConsent", needed, c)
	}

	// A read taken while the consent was live, asked about after it
	// expired (the session lives on): asked, as a fresh read would.
	e.clock.Advance(24*time.Hour + time.Second)
	if needed, c := ask(domain.ConsentQuestion{UserID: alice.ID, ClientID: "rp", Scopes: []string{"openid"}, Read: covered.Consent}); !needed || c["GetConsent"] != 0 {
		t.Errorf("a read past the consent's expiry: needed %v, reads %v; want asked, no read", needed, c)
	}
}

// TestCurrentSessionForRules: CurrentSession's rules, whichever client is
// named: no session, an idle one, one of a user who may no longer keep
// it or is gone: store.ErrNotFound; a pending user's: returned.
func TestCurrentSessionForRules(t *testing.T) {
	e, svc, _ := signedInEnv(t)
	e.client("rp", "RP", false)
	alice := e.user("alice", "user")
	pending := e.user("pat")
	e.startSession(svc, alice, "s-alice")
	e.startSession(svc, pending, "s-pat")

	notFound := func(id, why string) {
		t.Helper()
		for _, clientID := range []string{"", "rp"} {
			if _, err := svc.CurrentSessionFor(e.ctx, id, clientID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s (client %q): %v, want ErrNotFound", why, clientID, err)
			}
		}
	}
	notFound("", "no id")
	notFound("s-nobody", "no such session")
	if got, err := svc.CurrentSessionFor(e.ctx, "s-pat", "rp"); err != nil || got.User.Status != store.StatusPending {
		t.Errorf("a pending user's session: %v, %v; want it returned", got.User.Status, err)
	}

	// Disabled or locked behind the service's back (no session ended):
	// the rule, not the store, refuses it.
	for _, status := range []store.UserStatus{store.StatusDisabled, store.StatusLocked} {
		u, err := e.store.GetUser(e.ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		was := u.Status
		u.Status = status
		if err := e.store.UpdateUser(e.ctx, u); err != nil {
			t.Fatal(err)
		}
		notFound("s-alice", "a "+string(status)+" user's session")
		u.Status = was
		if err := e.store.UpdateUser(e.ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// An account past its expiry.
	u, err := e.store.GetUser(e.ctx, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	past := e.clock.Now().Add(-time.Minute)
	u.ExpiresAt = &past
	if err := e.store.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	notFound("s-alice", "an expired account's session")
	u.ExpiresAt = nil
	if err := e.store.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CurrentSessionFor(e.ctx, "s-alice", "rp"); err != nil {
		t.Fatalf("the restored user's session: %v", err)
	}

	// Idle longer than the timeout (an hour).
	e.clock.Advance(61 * time.Minute)
	notFound("s-alice", "an idle session")

	// Deleted for good, sessions and all.
	e.startSession(svc, alice, "s-alice-2")
	if err := svc.DeleteUser(e.ctx, e.principal(e.user("root", "admin")), alice.ID, true); err != nil {
		t.Fatal(err)
	}
	notFound("s-alice-2", "a deleted user's session")
}
