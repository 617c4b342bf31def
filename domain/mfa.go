package domain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// Authentication methods (RFC 8176) and assurance levels a sign-in records
// on its login session, and ID tokens carry as amr and acr.
const (
	AMRPassword = "pwd" // the password
	AMROTP      = "otp" // a code of an authenticator app (TOTP)
	// AMRRecoveryCode is the second step done with a one-use recovery
	// code. RFC 8176 has no value for look-up secrets; "mfa" says that more
	// than one factor was used without claiming an app code.
	AMRRecoveryCode = "mfa"
	// AMRHardwareKey is a passkey (a hardware-bound key); AMRUserVerified
	// ("user") follows it when the authenticator verified the user.
	AMRHardwareKey  = "hwk"
	AMRUserVerified = "user"

	// ACRPassword and ACRMultiFactor are the NIST SP 800-63B assurance
	// levels: one factor, or two of which one is a possession factor.
	ACRPassword    = "aal1"
	ACRMultiFactor = "aal2"
)

// Second-step rules.
const (
	// MFAChallengeLifetime is how long a right password waits for its
	// second step.
	MFAChallengeLifetime = 5 * time.Minute
	// MFAMaxAttempts wrong second-step answers end the sign-in attempt
	// and lock the account for the lockout duration, so that knowing the
	// password does not let anyone guess codes at leisure.
	MFAMaxAttempts = 5
	// FreshAuthWindow is how recent a sign-in must be for a change that
	// needs a fresh authentication (FreshAuth): disabling a factor without
	// typing the password again, removing a passkey. Someone who finds a
	// browser left signed in must not be able to take the owner's factors
	// away (or, through them, the account).
	FreshAuthWindow = 5 * time.Minute
	// pendingFactorLifetime bounds how long an unconfirmed factor can be
	// confirmed: a QR code left on a screen does not stay usable forever.
	pendingFactorLifetime = 30 * time.Minute
)

var (
	// ErrMFACode is a wrong second-step code; the attempt goes on.
	ErrMFACode = errors.New("wrong authentication code")
	// ErrMFAChallengeEnded means the pending second step is gone: too
	// many wrong codes, expired, already completed, or never started.
	// The user signs in again from the password.
	ErrMFAChallengeEnded = errors.New("sign-in attempt ended")
)

// FreshAuth reports whether a sign-in at authTime is, at now, recent
// enough for a change that needs a fresh authentication (FreshAuthWindow).
// No sign-in time is never fresh.
func FreshAuth(authTime, now time.Time) bool {
	return !authTime.IsZero() && now.Sub(authTime) <= FreshAuthWindow
}

// ACRValue is the acr of a sign-in with the given methods.
func ACRValue(amr []string) string {
	if len(amr) > 1 {
		return ACRMultiFactor
	}
	return ACRPassword
}

// ACRSatisfies reports whether a session of level have meets the level
// want. Values we do not define ask for nothing we can give beyond aal1,
// so any session meets them (acr_values is a voluntary claim request).
func ACRSatisfies(have, want string) bool {
	if want == ACRMultiFactor {
		return have == ACRMultiFactor
	}
	return true
}

// MFAState is what a user has set up for the second step.
type MFAState struct {
	// Factors are the confirmed factors, oldest first.
	Factors []store.MFAFactor
	// Passkeys is the number of the user's passkeys, each a second factor
	// (0 when passkeys are not configured: none could answer).
	Passkeys int
	// Kinds are the kinds of the confirmed factors, each once, passkeys
	// (store.FactorPasskey) last: what the second step page offers.
	Kinds []store.FactorKind
	// RecoveryCodes is the number of unused recovery codes.
	RecoveryCodes int
	// Required is true when the user's roles demand a second factor
	// (Options.MFARequiredRoles).
	Required bool
}

// Enrolled reports whether the user has a confirmed factor or a passkey.
func (m MFAState) Enrolled() bool { return len(m.Factors) > 0 || m.Passkeys > 0 }

// Has reports whether a confirmed factor of kind exists.
func (m MFAState) Has(kind store.FactorKind) bool { return slices.Contains(m.Kinds, kind) }

// MFAState returns the user's factors and whether policy requires one.
func (s *Service) MFAState(ctx context.Context, u store.User) (MFAState, error) {
	factors, passkeys, err := s.secondFactors(ctx, u.ID)
	if err != nil {
		return MFAState{}, fmt.Errorf("domain: MFA state: %w", err)
	}
	st := MFAState{Factors: factors, Passkeys: passkeys, Kinds: []store.FactorKind{}}
	for _, f := range factors {
		if !slices.Contains(st.Kinds, f.Kind) {
			st.Kinds = append(st.Kinds, f.Kind)
		}
	}
	if passkeys > 0 {
		st.Kinds = append(st.Kinds, store.FactorPasskey)
	}
	if st.RecoveryCodes, err = s.store.CountRecoveryCodes(ctx, u.ID); err != nil {
		return MFAState{}, fmt.Errorf("domain: MFA state: %w", err)
	}
	if st.Required, err = s.MFARequired(ctx, u); err != nil {
		return MFAState{}, err
	}
	return st, nil
}

// MFARequired reports whether one of the user's effective roles is in
// Options.MFARequiredRoles. A break-glass account is never required to
// (breakglass.go): it is the way in when enrolment is what is broken; a
// factor it has set up is still asked for.
func (s *Service) MFARequired(ctx context.Context, u store.User) (bool, error) {
	if len(s.opts.MFARequiredRoles) == 0 || u.BreakGlass {
		return false, nil
	}
	roles, err := s.EffectiveRoles(ctx, u)
	if err != nil {
		return false, fmt.Errorf("domain: MFA policy: %w", err)
	}
	for _, r := range roles {
		if slices.Contains(s.opts.MFARequiredRoles, r) {
			return true, nil
		}
	}
	return false, nil
}

// box returns the sealer of factor secrets, or an error if the server has
// no MFA key (a wiring mistake: cmd always derives one).
func (s *Service) box() (*secretBox, error) {
	if s.secrets == nil {
		return nil, errors.New("domain: no MFA key configured")
	}
	return s.secrets, nil
}

// TOTPEnrolment is a pending authenticator-app factor: what the user's app
// must be given (the key as text and as an otpauth URI for the QR code).
type TOTPEnrolment struct {
	FactorID string
	Secret   string
	URI      string
}

// BeginTOTPEnrolment creates a pending TOTP factor for u with a fresh
// secret, replacing any earlier pending one. A user with a confirmed TOTP
// factor gets a conflict: one authenticator app per account, disable it
// first. Nothing is audited until the factor is confirmed.
func (s *Service) BeginTOTPEnrolment(ctx context.Context, u store.User) (TOTPEnrolment, error) {
	box, err := s.box()
	if err != nil {
		return TOTPEnrolment{}, err
	}
	secret, err := newTOTPSecret()
	if err != nil {
		return TOTPEnrolment{}, err
	}
	account := u.Username
	if account == "" {
		account = u.Email
	}
	uri, err := totpKeyURI(s.opts.MFAIssuer, account, secret)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	f := store.MFAFactor{ID: uuid.NewString(), UserID: u.ID, Kind: store.FactorTOTP, CreatedAt: s.now()}
	if f.SecretEnc, err = box.seal(f.ID, []byte(secret)); err != nil {
		return TOTPEnrolment{}, err
	}
	err = s.inTx(ctx, "begin TOTP enrolment", func(ctx context.Context) error {
		factors, err := s.store.ListMFAFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, old := range factors {
			if old.Kind != store.FactorTOTP {
				continue
			}
			if old.Active() {
				return conflict("an authenticator app is already set up; remove it first")
			}
			if err := s.store.DeleteMFAFactor(ctx, old.ID); err != nil {
				return err
			}
		}
		return s.store.CreateMFAFactor(ctx, f)
	})
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{FactorID: f.ID, Secret: secret, URI: uri}, nil
}

// ConfirmTOTPEnrolment activates the user's pending TOTP factor if code is
// one of its codes, and returns ten new recovery codes, to be shown once
// (any earlier ones stop working). The code's time step counts as used.
// "mfa.enrolled" is audited. A wrong code gives ErrMFACode; a factor that
// is not the user's pending one, or pending too long, is not found.
func (s *Service) ConfirmTOTPEnrolment(ctx context.Context, a Actor, userID, factorID, code string) ([]string, error) {
	var codes []string
	err := s.inTx(ctx, "confirm TOTP enrolment", func(ctx context.Context) error {
		var err error
		codes, err = s.confirmTOTP(ctx, a, userID, factorID, code)
		return err
	})
	return codes, err
}

func (s *Service) confirmTOTP(ctx context.Context, a Actor, userID, factorID, code string) ([]string, error) {
	box, err := s.box()
	if err != nil {
		return nil, err
	}
	now := s.now()
	f, err := s.store.GetMFAFactor(ctx, factorID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (f.UserID != userID || f.Kind != store.FactorTOTP ||
		f.Active() || now.Sub(f.CreatedAt) > pendingFactorLifetime)) {
		return nil, notFound("no authenticator app set-up in progress; start again")
	}
	if err != nil {
		return nil, err
	}
	secret, err := box.open(f.ID, f.SecretEnc)
	if err != nil {
		return nil, err
	}
	step, ok := checkTOTP(string(secret), code, now, 0)
	if !ok {
		return nil, ErrMFACode
	}
	codes, digests, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := s.store.ConfirmMFAFactor(ctx, f.ID, now, step); err != nil {
		return nil, err
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, digests, now); err != nil {
		return nil, err
	}
	c := changes{"kind": {After: string(store.FactorTOTP)}, "factor_id": {After: f.ID}}
	if err := s.audit(ctx, a, "mfa.enrolled", TargetUser, userID, c); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP removes the user's authenticator app. It needs a fresh
// authentication: a sign-in within FreshAuthWindow (authTime), or the
// password typed again; otherwise ErrInvalidCredentials. The recovery
// codes go too when no other factor (a passkey among them) remains, since
// they stand in for one. "mfa.disabled" is audited; not found if there is
// no app.
func (s *Service) DisableTOTP(ctx context.Context, a Actor, u store.User, password string, authTime time.Time) error {
	now := s.now()
	if !FreshAuth(authTime, now) {
		if password == "" {
			return ErrInvalidCredentials
		}
		if ok, _ := s.verify(u.PasswordHash, password); !ok {
			// A session must not become a way to guess the password
			// without the lockout: this counts as a failed sign-in.
			if err := s.passwordFailed(ctx, a.IP, u); err != nil {
				return err
			}
			return ErrInvalidCredentials
		}
	}
	return s.inTx(ctx, "disable TOTP", func(ctx context.Context) error {
		factors, err := s.store.ListMFAFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		removed := 0
		for _, f := range factors {
			if f.Kind == store.FactorTOTP {
				if err := s.store.DeleteMFAFactor(ctx, f.ID); err != nil {
					return err
				}
				if f.Active() {
					removed++
				}
			}
		}
		if removed == 0 {
			return notFound("no authenticator app is set up")
		}
		if _, err := s.dropOrphanRecoveryCodes(ctx, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, a, "mfa.disabled", TargetUser, u.ID, changes{"kind": {Before: string(store.FactorTOTP)}})
	})
}

// secondFactors is what can answer the user's second step: the confirmed
// factors, oldest first (their secrets dropped: nobody outside the domain
// needs them), and the number of passkeys, counted only while passkeys are
// configured (none could answer otherwise).
func (s *Service) secondFactors(ctx context.Context, userID string) ([]store.MFAFactor, int, error) {
	all, err := s.store.ListMFAFactors(ctx, userID)
	if err != nil {
		return nil, 0, err
	}
	factors := []store.MFAFactor{}
	for _, f := range all {
		if f.Active() {
			f.SecretEnc = nil
			factors = append(factors, f)
		}
	}
	if s.rp == nil {
		return factors, 0, nil
	}
	creds, err := s.store.ListWebAuthnCredentials(ctx, userID)
	if err != nil {
		return nil, 0, err
	}
	return factors, len(creds), nil
}

// dropOrphanRecoveryCodes deletes the user's recovery codes once no second
// factor remains (they stand in for one), and returns how many went.
func (s *Service) dropOrphanRecoveryCodes(ctx context.Context, userID string) (int, error) {
	factors, passkeys, err := s.secondFactors(ctx, userID)
	if err != nil || len(factors)+passkeys > 0 {
		return 0, err
	}
	return s.store.DeleteRecoveryCodes(ctx, userID)
}

// ResetMFA removes every factor, passkey and recovery code of the user,
// for the one who lost them all (a passkey is a factor: a lost device must
// not keep asking for itself); the next sign-in is by password alone (or
// sent to enrolment by policy). The caller may not act on someone with
// more power (mayActOn). "mfa.reset" records how many of each went.
func (s *Service) ResetMFA(ctx context.Context, p Principal, userID string) error {
	if err := notFoundID("user", userID); err != nil {
		return err
	}
	return s.inTx(ctx, "reset MFA", func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, u); err != nil {
			return err
		}
		n, err := s.store.DeleteMFAFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		codes, err := s.store.DeleteRecoveryCodes(ctx, u.ID)
		if err != nil {
			return err
		}
		creds, err := s.store.ListWebAuthnCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		for _, cred := range creds {
			if err := s.store.DeleteWebAuthnCredential(ctx, u.ID, cred.ID); err != nil {
				return err
			}
		}
		c := changes{"factors": {Before: n, After: 0}, "recovery_codes": {Before: codes, After: 0},
			"passkeys": {Before: len(creds), After: 0}}
		return s.audit(ctx, p.Actor, "mfa.reset", TargetUser, u.ID, c)
	})
}

// NewMFAChallenge is the second step to start after a right password.
type NewMFAChallenge struct {
	// ID is the store id: a digest of the secret the challenge cookie
	// carries.
	ID       string
	User     store.User
	ReturnTo string
	// Enrol: the user must set up a factor first (policy, or a client
	// asking for aal2 of a user without one).
	Enrol bool
	// AMR are the methods the first step passed; nil is the password
	// ("pwd"). An upstream sign-in passes "fed" (idp).
	AMR []string
}

// StartMFAChallenge records a pending second step for in.User, expiring
// after MFAChallengeLifetime.
func (s *Service) StartMFAChallenge(ctx context.Context, in NewMFAChallenge) (store.MFAChallenge, error) {
	now := s.now()
	amr := []string{AMRPassword}
	if len(in.AMR) > 0 {
		amr = slices.Clone(in.AMR)
	}
	c := store.MFAChallenge{
		ID: in.ID, UserID: in.User.ID, ReturnTo: in.ReturnTo, AMR: amr, Enrol: in.Enrol,
		CreatedAt: now, ExpiresAt: now.Add(MFAChallengeLifetime),
	}
	if err := s.store.CreateMFAChallenge(ctx, c); err != nil {
		return store.MFAChallenge{}, fmt.Errorf("domain: start MFA challenge: %w", err)
	}
	return c, nil
}

// MFAChallenge returns the pending second step with id and its user;
// ErrMFAChallengeEnded if it is gone, expired, or its user may no longer
// sign in.
func (s *Service) MFAChallenge(ctx context.Context, id string) (store.MFAChallenge, store.User, error) {
	if id == "" {
		return store.MFAChallenge{}, store.User{}, ErrMFAChallengeEnded
	}
	now := s.now()
	c, err := s.store.GetMFAChallenge(ctx, id, now)
	if errors.Is(err, store.ErrNotFound) {
		return store.MFAChallenge{}, store.User{}, ErrMFAChallengeEnded
	}
	if err != nil {
		return store.MFAChallenge{}, store.User{}, fmt.Errorf("domain: MFA challenge: %w", err)
	}
	u, err := s.store.GetUser(ctx, c.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !UserCanAct(u, now, ActKeepSession)) {
		return store.MFAChallenge{}, store.User{}, ErrMFAChallengeEnded
	}
	if err != nil {
		return store.MFAChallenge{}, store.User{}, fmt.Errorf("domain: MFA challenge user: %w", err)
	}
	return c, u, nil
}

// MFAResult is a completed second step: who signed in, how, and where the
// sign-in continues. The caller starts the login session with AMR and ACR.
type MFAResult struct {
	User     store.User
	AMR      []string
	ACR      string
	ReturnTo string
}

// completed is the result of challenge c answered with methods (one, or
// a passkey's "hwk" and "user").
func completed(c store.MFAChallenge, u store.User, methods ...string) MFAResult {
	amr := append(slices.Clone(c.AMR), methods...)
	return MFAResult{User: u, AMR: amr, ACR: ACRValue(amr), ReturnTo: c.ReturnTo}
}

// VerifyTOTPChallenge completes the second step id with an authenticator
// app code: a code of a step within ±1 of now and later than the last one
// used on that factor. A wrong (or replayed) code gives ErrMFACode and
// "mfa.failed"; the MFAMaxAttempts-th ends the attempt with
// ErrMFAChallengeEnded. Success ends the challenge (it works once).
func (s *Service) VerifyTOTPChallenge(ctx context.Context, id, code, ip string) (MFAResult, error) {
	c, u, err := s.MFAChallenge(ctx, id)
	if err != nil {
		return MFAResult{}, err
	}
	if c.Enrol {
		return MFAResult{}, ErrMFAChallengeEnded
	}
	box, err := s.box()
	if err != nil {
		return MFAResult{}, err
	}
	factors, err := s.store.ListMFAFactors(ctx, u.ID)
	if err != nil {
		return MFAResult{}, fmt.Errorf("domain: verify TOTP: %w", err)
	}
	now := s.now()
	for _, f := range factors {
		if f.Kind != store.FactorTOTP || !f.Active() {
			continue
		}
		secret, err := box.open(f.ID, f.SecretEnc)
		if err != nil {
			return MFAResult{}, err
		}
		step, ok := checkTOTP(string(secret), code, now, f.LastStep)
		if !ok {
			continue
		}
		err = s.inTx(ctx, "verify TOTP", func(ctx context.Context) error {
			if err := s.store.AdvanceMFAStep(ctx, f.ID, step); err != nil {
				return err
			}
			return s.store.DeleteMFAChallenge(ctx, c.ID)
		})
		switch {
		case errors.Is(err, store.ErrConflict):
			// Another sign-in used this step a moment ago: a replay.
			return MFAResult{}, s.mfaFailed(ctx, c, ip, "otp")
		case errors.Is(err, store.ErrNotFound):
			return MFAResult{}, ErrMFAChallengeEnded
		case err != nil:
			return MFAResult{}, err
		}
		return completed(c, u, AMROTP), nil
	}
	return MFAResult{}, s.mfaFailed(ctx, c, ip, "otp")
}

// VerifyRecoveryChallenge completes the second step id with a recovery
// code, which is spent ("mfa.recovery_code_used"). Wrong codes count as
// VerifyTOTPChallenge's do.
func (s *Service) VerifyRecoveryChallenge(ctx context.Context, id, code, ip string) (MFAResult, error) {
	c, u, err := s.MFAChallenge(ctx, id)
	if err != nil {
		return MFAResult{}, err
	}
	if c.Enrol || normalizeCode(code) == "" {
		return MFAResult{}, s.mfaFailed(ctx, c, ip, "recovery_code")
	}
	var left int
	err = s.inTx(ctx, "verify recovery code", func(ctx context.Context) error {
		if err := s.store.UseRecoveryCode(ctx, u.ID, recoveryDigest(code), s.now()); err != nil {
			return err
		}
		var err error
		if left, err = s.store.CountRecoveryCodes(ctx, u.ID); err != nil {
			return err
		}
		if err := s.endChallenge(ctx, c.ID); err != nil {
			return err
		}
		return s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, "mfa.recovery_code_used", TargetUser, u.ID,
			changes{"recovery_codes": {Before: left + 1, After: left}})
	})
	switch {
	case errors.Is(err, ErrMFAChallengeEnded):
		return MFAResult{}, ErrMFAChallengeEnded
	case errors.Is(err, store.ErrNotFound):
		return MFAResult{}, s.mfaFailed(ctx, c, ip, "recovery_code")
	case err != nil:
		return MFAResult{}, err
	}
	return completed(c, u, AMRRecoveryCode), nil
}

// BeginPasskeyChallenge starts answering the second step id with one of
// its user's passkeys (BeginPasskeyFactor): the ceremony is bound to the
// challenge's user, so only their passkeys can finish it. Not found if
// the user has none; ErrMFAChallengeEnded if the step is gone or is an
// enrolment.
func (s *Service) BeginPasskeyChallenge(ctx context.Context, id string) (PasskeyCeremony, error) {
	c, u, err := s.MFAChallenge(ctx, id)
	if err != nil {
		return PasskeyCeremony{}, err
	}
	if c.Enrol {
		return PasskeyCeremony{}, ErrMFAChallengeEnded
	}
	return s.BeginPasskeyFactor(ctx, u)
}

// VerifyPasskeyChallenge completes the second step id with the assertion
// of the passkey ceremony of secret (VerifyPasskeyFactor): amr gains "hwk",
// and "user" when the authenticator verified the user. A refused assertion
// counts as a wrong code does (mfaFailed, method "passkey"): ErrMFACode,
// and the MFAMaxAttempts-th ends the attempt. Success ends the challenge.
func (s *Service) VerifyPasskeyChallenge(ctx context.Context, id, secret string, response io.Reader, ip string) (MFAResult, error) {
	c, u, err := s.MFAChallenge(ctx, id)
	if err != nil {
		return MFAResult{}, err
	}
	if c.Enrol {
		return MFAResult{}, ErrMFAChallengeEnded
	}
	methods, err := s.VerifyPasskeyFactor(ctx, u, secret, response, ip)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return MFAResult{}, s.mfaFailed(ctx, c, ip, "passkey")
	case err != nil:
		return MFAResult{}, err
	}
	if err := s.store.DeleteMFAChallenge(ctx, c.ID); errors.Is(err, store.ErrNotFound) {
		// Completed (or ended) by another request meanwhile: it works once.
		return MFAResult{}, ErrMFAChallengeEnded
	} else if err != nil {
		return MFAResult{}, fmt.Errorf("domain: verify passkey challenge: %w", err)
	}
	return completed(c, u, methods...), nil
}

// CompleteTOTPEnrolmentChallenge is the second step of a user whom policy
// sends to enrolment: confirming the new factor (ConfirmTOTPEnrolment)
// completes the sign-in, with the recovery codes to show. A wrong code
// counts as a failed second step.
func (s *Service) CompleteTOTPEnrolmentChallenge(ctx context.Context, id, factorID, code, ip string) (MFAResult, []string, error) {
	c, u, err := s.MFAChallenge(ctx, id)
	if err != nil {
		return MFAResult{}, nil, err
	}
	if !c.Enrol {
		return MFAResult{}, nil, ErrMFAChallengeEnded
	}
	var codes []string
	err = s.inTx(ctx, "confirm TOTP enrolment", func(ctx context.Context) error {
		var err error
		if codes, err = s.confirmTOTP(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, u.ID, factorID, code); err != nil {
			return err
		}
		if err := s.endChallenge(ctx, c.ID); err != nil {
			return err
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrMFAChallengeEnded):
		return MFAResult{}, nil, ErrMFAChallengeEnded
	case errors.Is(err, ErrMFACode):
		return MFAResult{}, nil, s.mfaFailed(ctx, c, ip, "otp")
	case err != nil:
		return MFAResult{}, nil, err
	}
	return completed(c, u, AMROTP), codes, nil
}

// endChallenge deletes the completed challenge id inside the transaction
// that completes it. Not found means another request completed or ended it
// meanwhile (ErrMFAChallengeEnded: it works once); any other error is the
// store's, returned as it is rather than passed off as an ended attempt.
func (s *Service) endChallenge(ctx context.Context, id string) error {
	err := s.store.DeleteMFAChallenge(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("challenge: %w", ErrMFAChallengeEnded)
	}
	return err
}

// mfaFailed counts a wrong second-step answer and audits "mfa.failed"
// (the method, never what was typed). It returns ErrMFACode while attempts
// remain, and ErrMFAChallengeEnded at the MFAMaxAttempts-th: the challenge
// is deleted and the account locked for Options.LockoutDuration
// ("user.lock").
func (s *Service) mfaFailed(ctx context.Context, c store.MFAChallenge, ip, method string) error {
	ended := false
	err := s.inTx(ctx, "count MFA failure", func(ctx context.Context) error {
		n, err := s.store.CountMFAChallengeFailure(ctx, c.ID)
		if errors.Is(err, store.ErrNotFound) {
			ended = true
			return nil
		}
		if err != nil {
			return err
		}
		ch := changes{"method": {After: method}, "attempts": {After: n}}
		if err := s.audit(ctx, Actor{Type: store.ActorAnonymous, IP: ip}, "mfa.failed", TargetUser, c.UserID, ch); err != nil {
			return err
		}
		if n < MFAMaxAttempts {
			return nil
		}
		ended = true
		if err := s.store.DeleteMFAChallenge(ctx, c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// The right password resets the failure count, so counting the
		// ended attempt as one failure would never lock: whoever knows the
		// password could try five codes per password, for ever. An ended
		// attempt locks the account for the lockout duration instead, as
		// LockoutThreshold wrong passwords would.
		now := s.now()
		after, err := s.store.RecordLoginFailure(ctx, c.UserID, now, 1, s.opts.LockoutDuration)
		if err != nil {
			return err
		}
		if after.LockedOut(now) {
			lock := changes{"locked_until": {After: auditTime(after.LockedUntil)}}
			return s.audit(ctx, Actor{Type: store.ActorSystem, IP: ip}, "user.lock", TargetUser, after.ID, lock)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ended {
		return ErrMFAChallengeEnded
	}
	return ErrMFACode
}

// passwordFailed records a wrong password typed to confirm an action as a
// failed sign-in: "login.failure", toward the lockout ("user.lock").
func (s *Service) passwordFailed(ctx context.Context, ip string, u store.User) error {
	now := s.now()
	return s.inTx(ctx, "record password failure", func(ctx context.Context) error {
		// Counted as a sign-in's wrong password is (authenticate): for
		// its address, and toward the account-wide lock only at its
		// threshold, so that a typo here cannot finish what a stranger's
		// few guesses began.
		attempt, err := s.store.RecordSignInFailure(ctx, u.ID, addressKey(ip), now, now.Add(-s.opts.LockoutDuration), 0)
		if err != nil {
			return err
		}
		lockAt := 0 // count only
		if limit := s.opts.AccountLockoutThreshold; limit > 0 && attempt.Account >= limit {
			lockAt = 1
		}
		after, err := s.store.RecordLoginFailure(ctx, u.ID, now, lockAt, s.opts.LockoutDuration)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, "login.failure", TargetUser, u.ID, nil); err != nil {
			return err
		}
		if after.LockedOut(now) {
			c := changes{"locked_until": {Before: auditTime(u.LockedUntil), After: auditTime(after.LockedUntil)}}
			return s.audit(ctx, Actor{Type: store.ActorSystem, IP: ip}, "user.lock", TargetUser, u.ID, c)
		}
		return nil
	})
}
