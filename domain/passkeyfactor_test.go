package domain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/internal/softauthn"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// newPasskeyMFAEnv has both an MFA key and a relying party, and the given
// roles require a second factor.
func newPasskeyMFAEnv(t *testing.T, required ...string) *env {
	t.Helper()
	cfg, err := domain.DefaultPasskeyConfig(passkeyOrigin)
	if err != nil {
		t.Fatal(err)
	}
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(c.Now))
	svc := domain.NewService(st, domain.Options{
		Passwords:        domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:              c.Now,
		MFAKey:           bytes.Repeat([]byte{42}, 32),
		MFAIssuer:        "Gatehouse Test",
		MFARequiredRoles: required,
		Passkeys:         cfg,
	})
	return &env{t: t, ctx: context.Background(), clock: c, store: st, svc: svc}
}

// passkeyAnswer begins the passkey answer of challenge id and has key sign
// it; it returns the ceremony secret and the assertion.
func (e *env) passkeyAnswer(id string, key *softauthn.Key) (string, []byte) {
	e.t.Helper()
	c, err := e.svc.BeginPasskeyChallenge(e.ctx, id)
	if err != nil {
		e.t.Fatalf("BeginPasskeyChallenge: %v", err)
	}
	body, err := key.Get(optionsJSON(e.t, c))
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Secret, body
}

// TestPasskeyAsSecondFactor: a passkey makes a user enrolled; after the
// password the second step is answered with it, and the session records
// pwd, hwk and user (aal2). The step works once.
func TestPasskeyAsSecondFactor(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	u := e.user("ada", "viewer")
	if st, _ := e.svc.MFAState(e.ctx, u); st.Enrolled() || len(st.Kinds) != 0 {
		t.Fatalf("state without a passkey = %+v", st)
	}
	key, cred := e.register(u, "Laptop")
	st, err := e.svc.MFAState(e.ctx, u)
	if err != nil || !st.Enrolled() || st.Passkeys != 1 || !slices.Equal(st.Kinds, []store.FactorKind{store.FactorPasskey}) ||
		!st.Has(store.FactorPasskey) || st.Has(store.FactorTOTP) {
		t.Fatalf("state with a passkey = %+v, %v; want enrolled with kind passkey", st, err)
	}
	// With an authenticator app too, both kinds are offered.
	e.enrol(u)
	if st, _ := e.svc.MFAState(e.ctx, u); !slices.Equal(st.Kinds, []store.FactorKind{store.FactorTOTP, store.FactorPasskey}) {
		t.Fatalf("kinds with app and passkey = %q", st.Kinds)
	}

	if _, err := e.svc.Authenticate(e.ctx, "ada", goodPassword, "192.0.2.9"); err != nil {
		t.Fatal(err)
	}
	id := e.challenge(u)
	mark := e.lastID()
	secret, body := e.passkeyAnswer(id, key)
	res, err := e.svc.VerifyPasskeyChallenge(e.ctx, id, secret, bytes.NewReader(body), "192.0.2.9")
	if err != nil {
		t.Fatalf("VerifyPasskeyChallenge: %v", err)
	}
	if !slices.Equal(res.AMR, []string{"pwd", "hwk", "user"}) || res.ACR != domain.ACRMultiFactor || res.User.ID != u.ID ||
		res.ReturnTo != "/oauth2/auth?x=1" {
		t.Fatalf("result = %+v; want amr [pwd hwk user], aal2, back to the authorization", res)
	}
	got := e.since(mark)
	if !slices.Equal(actions(got), []string{"mfa.passkey"}) || changesOf(t, got[0])["passkey_id"]["after"] != cred.ID {
		t.Fatalf("audit = %q", actions(got))
	}
	// The session the caller starts carries the methods.
	ls, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: "s-passkey", User: res.User, Lifetime: time.Hour, AMR: res.AMR})
	if err != nil || !slices.Equal(ls.AMR, []string{"pwd", "hwk", "user"}) || ls.ACR != "aal2" {
		t.Fatalf("session = %+v, %v", ls, err)
	}
	// The challenge is gone: another answer cannot complete it.
	if _, err := e.svc.BeginPasskeyChallenge(e.ctx, id); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("begin on a completed challenge: %v", err)
	}
	if _, err := e.store.GetMFAChallenge(e.ctx, id, e.clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("completed challenge still stored: %v", err)
	}

	// Without user verification the step proves possession only.
	key.UserVerified = false
	id = e.challenge(u)
	secret, body = e.passkeyAnswer(id, key)
	res, err = e.svc.VerifyPasskeyChallenge(e.ctx, id, secret, bytes.NewReader(body), "")
	if err != nil || !slices.Equal(res.AMR, []string{"pwd", "hwk"}) || res.ACR != domain.ACRMultiFactor {
		t.Fatalf("without UV = %+v, %v; want [pwd hwk], aal2", res, err)
	}
}

// TestPasskeyChallengeRefusals: another user's passkey, a replayed
// assertion and a ceremony of another challenge's user are refused and
// counted as wrong answers; the MFAMaxAttempts-th ends the attempt and
// locks the account, as wrong codes do.
func TestPasskeyChallengeRefusals(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	u := e.user("ada", "viewer")
	bob := e.user("bob", "viewer")
	key, _ := e.register(u, "Laptop")
	bobKey, _ := e.register(bob, "Bob's phone")
	nokeys := e.user("carol", "viewer")

	id := e.challenge(u)
	// Carol has no passkey: nothing to begin.
	if _, err := e.svc.BeginPasskeyChallenge(e.ctx, e.challenge(nokeys)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("begin for a user without passkeys: %v, want not found", err)
	}
	mark := e.lastID()
	// Bob's (registered, valid) passkey signs ada's ceremony: refused.
	secret, body := e.passkeyAnswer(id, bobKey)
	if _, err := e.svc.VerifyPasskeyChallenge(e.ctx, id, secret, bytes.NewReader(body), "192.0.2.9"); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("another user's passkey: %v, want ErrMFACode", err)
	}
	got := e.since(mark)
	if !slices.Equal(actions(got), []string{"mfa.passkey.failure", "mfa.failed"}) || got[1].TargetID != u.ID {
		t.Fatalf("audit = %q", actions(got))
	}
	if ch := changesOf(t, got[1]); ch["method"]["after"] != "passkey" || ch["attempts"]["after"] != float64(1) {
		t.Fatalf("mfa.failed changes = %v", ch)
	}
	// A ceremony begun for bob's challenge cannot answer ada's.
	bobID := e.challenge(bob)
	bobSecret, bobBody := e.passkeyAnswer(bobID, bobKey)
	if _, err := e.svc.VerifyPasskeyChallenge(e.ctx, id, bobSecret, bytes.NewReader(bobBody), ""); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("bob's ceremony on ada's challenge: %v", err)
	}
	// A right assertion, replayed: its ceremony is spent.
	secret, body = e.passkeyAnswer(id, key)
	if _, err := e.svc.VerifyPasskeyChallenge(e.ctx, id, secret, bytes.NewReader([]byte(`{"id":"x"}`)), ""); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("malformed assertion: %v", err)
	}
	if _, err := e.svc.VerifyPasskeyChallenge(e.ctx, id, secret, bytes.NewReader(body), ""); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("assertion of a spent ceremony: %v", err)
	}
	// The fifth wrong answer ends the attempt; even a good one cannot
	// finish it afterwards.
	secret, _ = e.passkeyAnswer(id, key)
	e.clock.Advance(time.Second) // a new challenge id for bob
	_, body = e.passkeyAnswer(e.challenge(bob), bobKey)
	if _, err := e.svc.VerifyPasskeyChallenge(e.ctx, id, secret, bytes.NewReader(body), ""); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("fifth wrong answer: %v, want ErrMFAChallengeEnded", err)
	}
	if _, err := e.svc.BeginPasskeyChallenge(e.ctx, id); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("begin after the attempt ended: %v", err)
	}
	if !slices.Contains(actions(e.since(mark)), "user.lock") {
		t.Fatalf("no user.lock after five wrong answers: %q", actions(e.since(mark)))
	}
	if _, err := e.svc.Authenticate(e.ctx, "ada", goodPassword, ""); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("password right after an ended attempt: %v, want locked", err)
	}
	// Bob's own challenge still works with his passkey.
	secret, body = e.passkeyAnswer(bobID, bobKey)
	if res, err := e.svc.VerifyPasskeyChallenge(e.ctx, bobID, secret, bytes.NewReader(body), ""); err != nil || res.User.ID != bob.ID {
		t.Fatalf("bob's own step: %+v, %v", res.User, err)
	}
	// An enrolment challenge is not answered with a passkey.
	if _, err := e.svc.StartMFAChallenge(e.ctx, domain.NewMFAChallenge{ID: "enrol", User: bob, Enrol: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.BeginPasskeyChallenge(e.ctx, "enrol"); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("begin on an enrolment challenge: %v", err)
	}
}

// TestPasskeySatisfiesMFAPolicy: a user whose role requires a second
// factor and who has a passkey is enrolled (the second step, not the
// enrolment); with passkeys turned off their passkeys count for nothing.
func TestPasskeySatisfiesMFAPolicy(t *testing.T) {
	e := newPasskeyMFAEnv(t, "admin")
	root := e.user("root", "admin")
	e.register(root, "Key")
	st, err := e.svc.MFAState(e.ctx, root)
	if err != nil || !st.Required || !st.Enrolled() {
		t.Fatalf("admin with a passkey: %+v, %v; want required and enrolled", st, err)
	}
	off := domain.NewService(e.store, domain.Options{Now: e.clock.Now, MFARequiredRoles: []string{"admin"}})
	if st, _ := off.MFAState(e.ctx, root); st.Enrolled() || st.Has(store.FactorPasskey) || st.Passkeys != 0 {
		t.Fatalf("state with passkeys off = %+v; want no passkey factor", st)
	}
}

// TestResetMFARemovesPasskeys: the reset removes passkeys with the app and
// recovery codes, and audits how many of each.
func TestResetMFARemovesPasskeys(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	root := e.user("root", "admin")
	u := e.user("ada", "viewer")
	e.enrol(u)
	key, _ := e.register(u, "Laptop")
	e.register(u, "Phone")
	mark := e.lastID()
	if err := e.svc.ResetMFA(e.ctx, e.principal(root), u.ID); err != nil {
		t.Fatal(err)
	}
	got := e.since(mark)
	if !slices.Equal(actions(got), []string{"mfa.reset"}) {
		t.Fatalf("audit = %q", actions(got))
	}
	ch := changesOf(t, got[0])
	if ch["passkeys"]["before"] != float64(2) || ch["passkeys"]["after"] != float64(0) ||
		ch["factors"]["before"] != float64(1) || ch["recovery_codes"]["before"] != float64(10) {
		t.Fatalf("mfa.reset changes = %v", ch)
	}
	if list, err := e.svc.ListPasskeys(e.ctx, u.ID); err != nil || len(list) != 0 {
		t.Fatalf("passkeys after reset = %+v, %v", list, err)
	}
	if st, _ := e.svc.MFAState(e.ctx, u); st.Enrolled() || len(st.Kinds) != 0 || st.RecoveryCodes != 0 {
		t.Fatalf("state after reset = %+v", st)
	}
	if _, err := e.passkeySignIn(key); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("passwordless sign-in with a reset passkey: %v", err)
	}
}

// TestRecoveryCodesOutliveTheAppWhileAPasskeyRemains: recovery codes stand
// in for a second factor, so turning the app off keeps them while a
// passkey remains, and removing the last passkey then takes them too.
func TestRecoveryCodesOutliveTheAppWhileAPasskeyRemains(t *testing.T) {
	e := newPasskeyMFAEnv(t)
	u := e.user("ada", "viewer")
	e.enrol(u)
	_, cred := e.register(u, "Laptop")
	if err := e.svc.DisableTOTP(e.ctx, e.self(u), u, "", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	st, _ := e.svc.MFAState(e.ctx, u)
	if !st.Enrolled() || !slices.Equal(st.Kinds, []store.FactorKind{store.FactorPasskey}) || st.RecoveryCodes != 10 {
		t.Fatalf("after turning the app off = %+v; want the passkey and ten recovery codes", st)
	}
	mark := e.lastID()
	if err := e.svc.RemovePasskey(e.ctx, e.self(u), u.ID, cred.ID); err != nil {
		t.Fatal(err)
	}
	got := e.since(mark)
	if !slices.Equal(actions(got), []string{"passkey.removed"}) || changesOf(t, got[0])["recovery_codes"]["before"] != float64(10) {
		t.Fatalf("audit = %q %s; want passkey.removed counting ten recovery codes", actions(got), got[0].Changes)
	}
	if st, _ := e.svc.MFAState(e.ctx, u); st.Enrolled() || st.RecoveryCodes != 0 {
		t.Fatalf("after removing the last passkey = %+v; want nothing left", st)
	}
	// A passkey removed while another factor remains leaves the codes.
	e.enrol(u)
	_, cred = e.register(u, "Phone")
	if err := e.svc.RemovePasskey(e.ctx, e.self(u), u.ID, cred.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.svc.MFAState(e.ctx, u); st.RecoveryCodes != 10 || !st.Has(store.FactorTOTP) {
		t.Fatalf("after removing a passkey beside the app = %+v", st)
	}
}

// BenchmarkPasskeySecondStep is the server's part of a passkey second
// step (begin, then verify; the authenticator's signing is not timed), to
// compare with BenchmarkSecondStep's app code and the password's bcrypt.
func BenchmarkPasskeySecondStep(b *testing.B) {
	ctx := context.Background()
	cfg, err := domain.DefaultPasskeyConfig(passkeyOrigin)
	if err != nil {
		b.Fatal(err)
	}
	clock := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(clock.Now))
	svc := domain.NewService(st, domain.Options{
		Passwords: domain.Passwords{BcryptCost: 4, MinLength: 8}, Now: clock.Now, Passkeys: cfg,
	})
	u, err := svc.CreateUser(ctx, domain.CLIActor(), domain.NewUser{
		Username: "bench", Email: "bench@example.com", Password: benchPassword, Roles: []string{"viewer"},
	})
	if err != nil {
		b.Fatal(err)
	}
	key, err := softauthn.New(passkeyOrigin)
	if err != nil {
		b.Fatal(err)
	}
	reg, err := svc.BeginPasskeyRegistration(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	opts, _ := json.Marshal(reg.Options)
	body, err := key.Create(opts)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.FinishPasskeyRegistration(ctx, domain.CLIActor(), u.ID, reg.Secret, "Key", bytes.NewReader(body)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("bench-challenge-%d", i)
		if _, err := svc.StartMFAChallenge(ctx, domain.NewMFAChallenge{ID: id, User: u}); err != nil {
			b.Fatal(err)
		}
		c, err := svc.BeginPasskeyChallenge(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		opts, _ := json.Marshal(c.Options)
		assertion, err := key.Get(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := svc.VerifyPasskeyChallenge(ctx, id, c.Secret, bytes.NewReader(assertion), "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
	}
}
