package domain_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/memory"
)

// newMFAEnv is newEnv with an MFA key and the given required roles.
func newMFAEnv(t *testing.T, required ...string) *env {
	t.Helper()
	c := fakeclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	st := memory.New(memory.WithClock(c.Now))
	svc := domain.NewService(st, domain.Options{
		Passwords:        domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:              c.Now,
		MFAKey:           bytes.Repeat([]byte{42}, 32),
		MFAIssuer:        "Gatehouse Test",
		MFARequiredRoles: required,
	})
	return &env{t: t, ctx: context.Background(), clock: c, store: st, svc: svc}
}

func totpCode(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol sets up an authenticator app for u and returns its secret and the
// recovery codes.
func (e *env) enrol(u store.User) (string, []string) {
	e.t.Helper()
	en, err := e.svc.BeginTOTPEnrolment(e.ctx, u)
	if err != nil {
		e.t.Fatalf("BeginTOTPEnrolment: %v", err)
	}
	codes, err := e.svc.ConfirmTOTPEnrolment(e.ctx, e.self(u), u.ID, en.FactorID, totpCode(e.t, en.Secret, e.clock.Now()))
	if err != nil {
		e.t.Fatalf("ConfirmTOTPEnrolment: %v", err)
	}
	// Two steps past the confirming code's, so that the codes of now and
	// of the step before are both fresh.
	e.clock.Advance(60 * time.Second)
	return en.Secret, codes
}

func (e *env) self(u store.User) domain.Actor {
	return domain.Actor{Type: store.ActorUser, ID: u.ID, IP: "192.0.2.7"}
}

func (e *env) challenge(u store.User) string {
	e.t.Helper()
	id := "challenge-" + u.ID + "-" + e.clock.Now().Format(time.RFC3339Nano)
	if _, err := e.svc.StartMFAChallenge(e.ctx, domain.NewMFAChallenge{ID: id, User: u, ReturnTo: "/oauth2/auth?x=1"}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func TestTOTPEnrolment(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	st, err := e.svc.MFAState(e.ctx, u)
	if err != nil || st.Enrolled() || st.RecoveryCodes != 0 {
		t.Fatalf("state before = %+v, %v", st, err)
	}

	en, err := e.svc.BeginTOTPEnrolment(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	uri, err := url.Parse(en.URI)
	if err != nil || uri.Scheme != "otpauth" || uri.Query().Get("secret") != en.Secret || uri.Query().Get("issuer") != "Gatehouse Test" {
		t.Fatalf("uri = %s", en.URI)
	}
	// Pending: not a factor for sign-in yet.
	if st, _ := e.svc.MFAState(e.ctx, u); st.Enrolled() {
		t.Fatal("a pending factor counts as enrolled")
	}
	// The secret is sealed at rest.
	f, err := e.store.GetMFAFactor(e.ctx, en.FactorID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(f.SecretEnc, []byte(en.Secret)) || len(f.SecretEnc) == 0 {
		t.Fatal("the stored secret is not sealed")
	}

	other := e.user("mallory", "viewer")
	before := e.lastID()
	wrong := totpCode(t, en.Secret, e.clock.Now().Add(-5*time.Minute))
	if _, err := e.svc.ConfirmTOTPEnrolment(e.ctx, e.self(u), u.ID, en.FactorID, wrong); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("confirm with a wrong code: %v", err)
	}
	if _, err := e.svc.ConfirmTOTPEnrolment(e.ctx, e.self(other), other.ID, en.FactorID,
		totpCode(t, en.Secret, e.clock.Now())); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("confirm of another user's factor: %v", err)
	}
	codes, err := e.svc.ConfirmTOTPEnrolment(e.ctx, e.self(u), u.ID, en.FactorID, totpCode(t, en.Secret, e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != domain.RecoveryCodeCount {
		t.Fatalf("%d recovery codes", len(codes))
	}
	if got := actions(e.since(before)); !slices.Equal(got, []string{"mfa.enrolled"}) {
		t.Fatalf("audit = %v", got)
	}
	st, err = e.svc.MFAState(e.ctx, u)
	if err != nil || !st.Enrolled() || !st.Has(store.FactorTOTP) || st.RecoveryCodes != 10 {
		t.Fatalf("state after = %+v, %v", st, err)
	}
	if st.Factors[0].SecretEnc != nil {
		t.Fatal("MFAState hands out the sealed secret")
	}
	// Confirming twice does not work, and a second app is refused.
	if _, err := e.svc.ConfirmTOTPEnrolment(e.ctx, e.self(u), u.ID, en.FactorID, totpCode(t, en.Secret, e.clock.Now())); err == nil {
		t.Fatal("confirmed twice")
	}
	if _, err := e.svc.BeginTOTPEnrolment(e.ctx, u); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("second app: %v", err)
	}
}

func TestTOTPPendingFactorExpires(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	en, err := e.svc.BeginTOTPEnrolment(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(31 * time.Minute)
	if _, err := e.svc.ConfirmTOTPEnrolment(e.ctx, e.self(u), u.ID, en.FactorID,
		totpCode(t, en.Secret, e.clock.Now())); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("confirm of a stale pending factor: %v", err)
	}
}

func TestTOTPChallenge(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	secret, _ := e.enrol(u)

	id := e.challenge(u)
	// A code from one step ago is still accepted (clock skew).
	code := totpCode(t, secret, e.clock.Now().Add(-30*time.Second))
	res, err := e.svc.VerifyTOTPChallenge(e.ctx, id, code, "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.AMR, []string{"pwd", "otp"}) || res.ACR != "aal2" || res.User.ID != u.ID || res.ReturnTo != "/oauth2/auth?x=1" {
		t.Fatalf("result = %+v", res)
	}
	// The challenge works once.
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id, totpCode(t, secret, e.clock.Now()), ""); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("challenge reused: %v", err)
	}

	// The same code at the next sign-in: refused, it was used.
	id2 := e.challenge(u)
	before := e.lastID()
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id2, code, "192.0.2.9"); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("replayed code: %v", err)
	}
	// So is one of an earlier step than the one used (code was of now-30s).
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id2, totpCode(t, secret, e.clock.Now().Add(-60*time.Second)), ""); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("older code: %v", err)
	}
	got := e.since(before)
	if !slices.Equal(actions(got), []string{"mfa.failed", "mfa.failed"}) || got[0].TargetID != u.ID {
		t.Fatalf("audit = %v", actions(got))
	}
	if bytes.Contains(got[0].Changes, []byte(code)) {
		t.Fatal("the audit entry holds the code")
	}
	// A code two steps ahead is too far.
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id2, totpCode(t, secret, e.clock.Now().Add(61*time.Second)), ""); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("code two steps ahead: %v", err)
	}
	// The current code still works on this challenge (attempts left).
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id2, totpCode(t, secret, e.clock.Now()), ""); err != nil {
		t.Fatalf("current code: %v", err)
	}
}

func TestMFAFiveFailuresEndTheAttempt(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	secret, _ := e.enrol(u)
	id := e.challenge(u)
	wrong := totpCode(t, secret, e.clock.Now().Add(-10*time.Minute))
	for i := 1; i < domain.MFAMaxAttempts; i++ {
		if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id, wrong, ""); !errors.Is(err, domain.ErrMFACode) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id, wrong, ""); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("fifth wrong code: %v", err)
	}
	// Even the right code cannot finish it now.
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id, totpCode(t, secret, e.clock.Now()), ""); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("right code after the attempt ended: %v", err)
	}
	if _, err := e.store.GetMFAChallenge(e.ctx, id, e.clock.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the challenge is still stored: %v", err)
	}
	// The ended attempt locked the account: the right password does not
	// start another one until the lockout passes.
	if got := e.since(e.lastID() - 2); !slices.Contains(actions(got), "user.lock") {
		t.Fatalf("no user.lock after the fifth wrong code: %v", actions(got))
	}
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("password right after an ended attempt: %v", err)
	}
	e.clock.Advance(domain.DefaultLockoutDuration + time.Second)
	if _, err := e.svc.Authenticate(e.ctx, "alice", goodPassword, ""); err != nil {
		t.Fatalf("password after the lockout: %v", err)
	}
	// Recovery codes count toward the same limit.
	id = e.challenge(u)
	for i := 1; i < domain.MFAMaxAttempts; i++ {
		if _, err := e.svc.VerifyRecoveryChallenge(e.ctx, id, "aaaaa-bbbbb", ""); !errors.Is(err, domain.ErrMFACode) {
			t.Fatalf("recovery attempt %d: %v", i, err)
		}
	}
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id, wrong, ""); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("fifth wrong answer, mixed: %v", err)
	}
}

func TestMFAChallengeExpires(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	secret, _ := e.enrol(u)
	id := e.challenge(u)
	e.clock.Advance(domain.MFAChallengeLifetime + time.Second)
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id, totpCode(t, secret, e.clock.Now()), ""); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("expired challenge: %v", err)
	}
}

func TestRecoveryCodeWorksOnce(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	_, codes := e.enrol(u)
	id := e.challenge(u)
	before := e.lastID()
	res, err := e.svc.VerifyRecoveryChallenge(e.ctx, id, "  "+codes[3]+" ", "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.AMR, []string{"pwd", "mfa"}) || res.ACR != "aal2" {
		t.Fatalf("result = %+v", res)
	}
	if got := actions(e.since(before)); !slices.Equal(got, []string{"mfa.recovery_code_used"}) {
		t.Fatalf("audit = %v", got)
	}
	if st, _ := e.svc.MFAState(e.ctx, u); st.RecoveryCodes != 9 {
		t.Fatalf("codes left = %d", st.RecoveryCodes)
	}
	id = e.challenge(u)
	if _, err := e.svc.VerifyRecoveryChallenge(e.ctx, id, codes[3], ""); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("recovery code used twice: %v", err)
	}
	if _, err := e.svc.VerifyRecoveryChallenge(e.ctx, id, codes[4], ""); err != nil {
		t.Fatalf("another code: %v", err)
	}
}

func TestDisableTOTPNeedsFreshAuthentication(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	e.enrol(u)
	old := e.clock.Now().Add(-time.Hour)
	if err := e.svc.DisableTOTP(e.ctx, e.self(u), u, "", old); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("disable with an old sign-in and no password: %v", err)
	}
	before := e.lastID()
	if err := e.svc.DisableTOTP(e.ctx, e.self(u), u, "wrong password!", old); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("disable with a wrong password: %v", err)
	}
	// The wrong password counts toward the lockout like a sign-in's.
	if got := actions(e.since(before)); !slices.Equal(got, []string{"login.failure"}) {
		t.Fatalf("audit of a wrong password = %v", got)
	}
	if after, _ := e.store.GetUser(e.ctx, u.ID); after.FailedLogins != 1 {
		t.Fatalf("failed logins = %d, want 1", after.FailedLogins)
	}
	if st, _ := e.svc.MFAState(e.ctx, u); !st.Enrolled() {
		t.Fatal("disabled without a fresh authentication")
	}
	before = e.lastID()
	if err := e.svc.DisableTOTP(e.ctx, e.self(u), u, goodPassword, old); err != nil {
		t.Fatal(err)
	}
	if got := actions(e.since(before)); !slices.Equal(got, []string{"mfa.disabled"}) {
		t.Fatalf("audit = %v", got)
	}
	st, _ := e.svc.MFAState(e.ctx, u)
	if st.Enrolled() || st.RecoveryCodes != 0 {
		t.Fatalf("state after disable = %+v", st)
	}
	// A recent sign-in needs no password.
	e.enrol(u)
	if err := e.svc.DisableTOTP(e.ctx, e.self(u), u, "", e.clock.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DisableTOTP(e.ctx, e.self(u), u, "", e.clock.Now()); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("disable with nothing set up: %v", err)
	}
}

func TestResetMFA(t *testing.T) {
	e := newMFAEnv(t)
	root := e.user("root", "admin")
	u := e.user("alice", "viewer")
	e.enrol(u)
	viewer := e.user("victor", "viewer")
	// Not more power than the target: a viewer may not reset an admin.
	e.enrol(root)
	if err := e.svc.ResetMFA(e.ctx, e.principal(viewer), root.ID); domain.ErrorCode(err) != domain.CodeForbidden {
		t.Fatalf("viewer resets admin: %v", err)
	}
	before := e.lastID()
	if err := e.svc.ResetMFA(e.ctx, e.principal(root), u.ID); err != nil {
		t.Fatal(err)
	}
	got := e.since(before)
	if !slices.Equal(actions(got), []string{"mfa.reset"}) || got[0].TargetID != u.ID || got[0].ActorID != root.ID {
		t.Fatalf("audit = %+v", got)
	}
	st, _ := e.svc.MFAState(e.ctx, u)
	if st.Enrolled() || st.RecoveryCodes != 0 {
		t.Fatalf("state after reset = %+v", st)
	}
	if err := e.svc.ResetMFA(e.ctx, e.principal(root), "00000000-0000-0000-0000-000000000001"); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("reset of nobody: %v", err)
	}
}

func TestMFAPolicyAndEnrolmentChallenge(t *testing.T) {
	e := newMFAEnv(t, "admin")
	root := e.user("root", "admin")
	u := e.user("alice", "viewer")
	if st, _ := e.svc.MFAState(e.ctx, root); !st.Required {
		t.Fatal("an admin is not required to use MFA")
	}
	if st, _ := e.svc.MFAState(e.ctx, u); st.Required {
		t.Fatal("a viewer is required to use MFA")
	}

	id := "enrol-challenge"
	if _, err := e.svc.StartMFAChallenge(e.ctx, domain.NewMFAChallenge{ID: id, User: root, ReturnTo: "/x", Enrol: true}); err != nil {
		t.Fatal(err)
	}
	// An enrolment challenge cannot be passed with a code or recovery code.
	if _, err := e.svc.VerifyTOTPChallenge(e.ctx, id, "123456", ""); !errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("totp on an enrolment challenge: %v", err)
	}
	en, err := e.svc.BeginTOTPEnrolment(e.ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	wrong := totpCode(t, en.Secret, e.clock.Now().Add(-10*time.Minute))
	if _, _, err := e.svc.CompleteTOTPEnrolmentChallenge(e.ctx, id, en.FactorID, wrong, ""); !errors.Is(err, domain.ErrMFACode) {
		t.Fatalf("wrong code: %v", err)
	}
	res, codes, err := e.svc.CompleteTOTPEnrolmentChallenge(e.ctx, id, en.FactorID, totpCode(t, en.Secret, e.clock.Now()), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 || !slices.Equal(res.AMR, []string{"pwd", "otp"}) || res.ACR != "aal2" || res.ReturnTo != "/x" {
		t.Fatalf("result = %+v, %d codes", res, len(codes))
	}
	if st, _ := e.svc.MFAState(e.ctx, root); !st.Enrolled() {
		t.Fatal("not enrolled after the enrolment challenge")
	}
}

func TestSessionRecordsAMRAndACR(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	ls, err := e.svc.StartSession(e.ctx, domain.NewSession{ID: "s1", User: u, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ls.AMR, []string{"pwd"}) || ls.ACR != "aal1" {
		t.Fatalf("password session: %v %q", ls.AMR, ls.ACR)
	}
	ls, err = e.svc.StartSession(e.ctx, domain.NewSession{ID: "s2", User: u, Lifetime: time.Hour, AMR: []string{"pwd", "otp"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := e.svc.CurrentSession(e.ctx, "s2")
	if err != nil || !slices.Equal(got.AMR, []string{"pwd", "otp"}) || got.ACR != "aal2" || ls.ACR != "aal2" {
		t.Fatalf("mfa session: %+v, %v", got, err)
	}
	if !domain.ACRSatisfies("aal2", "aal2") || domain.ACRSatisfies("aal1", "aal2") || !domain.ACRSatisfies("aal1", "aal1") {
		t.Fatal("ACRSatisfies")
	}
}

// TestFreshAuth: the one rule of a fresh authentication, which the domain
// (DisableTOTP) and the pages (the security page's passkeys) both apply.
func TestFreshAuth(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		name     string
		authTime time.Time
		want     bool
	}{
		{"no sign-in time", time.Time{}, false},
		{"just now", now, true},
		{"at the window's end", now.Add(-domain.FreshAuthWindow), true},
		{"past the window", now.Add(-domain.FreshAuthWindow - time.Second), false},
	} {
		if got := domain.FreshAuth(c.authTime, now); got != c.want {
			t.Errorf("%s: FreshAuth = %v, want %v", c.name, got, c.want)
		}
	}
}

// downOnDelete is a store whose deleting of a challenge fails as a database
// that went away would.
type downOnDelete struct{ *memory.Store }

func (downOnDelete) DeleteMFAChallenge(context.Context, string) error {
	return errors.Join(errors.New("connection lost"), store.ErrUnavailable)
}

// TestCompletingAChallengeReportsStoreErrors: a store failure while a
// right recovery code completes the step is that failure, not an ended
// attempt (which would send the user back to the password for nothing).
func TestCompletingAChallengeReportsStoreErrors(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	_, codes := e.enrol(u)
	svc := domain.NewService(downOnDelete{e.store}, domain.Options{
		Passwords: domain.Passwords{BcryptCost: bcrypt.MinCost, MinLength: 8},
		Now:       e.clock.Now,
		MFAKey:    bytes.Repeat([]byte{42}, 32),
	})
	id := e.challenge(u)
	_, err := svc.VerifyRecoveryChallenge(e.ctx, id, codes[0], "")
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, domain.ErrMFAChallengeEnded) {
		t.Fatalf("VerifyRecoveryChallenge with the store down: %v, want the store's error", err)
	}
}

// TestDisablePasswordTypoDoesNotLockTheAccount: wrong passwords on the
// turn-off form count like a sign-in's (per address, the account-wide lock
// only at its threshold), so a stranger's few guesses from elsewhere plus
// the owner's one typo lock nobody out.
func TestDisablePasswordTypoDoesNotLockTheAccount(t *testing.T) {
	e := newMFAEnv(t)
	u := e.user("alice", "viewer")
	e.enrol(u)
	for range domain.DefaultLockoutThreshold - 1 {
		if _, err := e.svc.Authenticate(e.ctx, "alice", "a stranger's guess", "198.51.100.7"); !errors.Is(err, domain.ErrInvalidCredentials) {
			t.Fatalf("guess: %v", err)
		}
	}
	owner := e.self(u)
	owner.IP = "192.0.2.44"
	if err := e.svc.DisableTOTP(e.ctx, owner, u, "a typo", e.clock.Now().Add(-time.Hour)); !errors.Is(err, domain.ErrInvalidCredentials) {
		t.Fatalf("typo: %v", err)
	}
	if after, _ := e.store.GetUser(e.ctx, u.ID); after.LockedOut(e.clock.Now()) {
		t.Fatalf("the account is locked until %v after %d guesses and one typo", after.LockedUntil, domain.DefaultLockoutThreshold)
	}
	if f, _, err := e.store.CountSignInFailures(e.ctx, u.ID, "192.0.2.44", e.clock.Now().Add(-time.Hour)); err != nil || f.Count != 1 {
		t.Fatalf("the typo's address count = %+v, %v; want 1", f, err)
	}
}
