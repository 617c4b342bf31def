package store

import (
	"context"
	"time"
)

// ---------------------------------------------------------------------------
// Multi-factor authentication

// FactorKind names a kind of second factor. Only TOTP is built in; other
// kinds (passkeys) use the same tables with their own kind and secret.
type FactorKind string

const FactorTOTP FactorKind = "totp"

// FactorPasskey is a passkey used as the second factor. Passkeys are kept
// as WebAuthn credentials, never as MFAFactor rows: the kind only names
// them where the second step lists what a user can answer with.
const FactorPasskey FactorKind = "passkey"

// MFAFactor is one second factor of a user. A factor is pending from its
// creation until ConfirmedAt is set (the user proved it works); only
// confirmed factors count at sign-in.
type MFAFactor struct {
	ID     string // UUID
	UserID string
	Kind   FactorKind
	// SecretEnc is the factor's secret, sealed by the domain (AES-GCM); the
	// store never sees it in the clear.
	SecretEnc   []byte
	ConfirmedAt *time.Time
	// LastStep is the last TOTP time step accepted (0: none): a code of
	// that step or an earlier one is refused, so a code works once.
	LastStep  int64
	CreatedAt time.Time
}

// Active reports whether the factor was confirmed.
func (f MFAFactor) Active() bool { return f.ConfirmedAt != nil }

// MFAChallenge is a sign-in between its password and its second step: the
// password was right, the login session does not exist yet.
type MFAChallenge struct {
	// ID is the SHA-256 (hex) of the challenge cookie's value.
	ID     string
	UserID string
	// ReturnTo is where the sign-in continues once complete.
	ReturnTo string
	// Attempts counts wrong second-step answers.
	Attempts int
	// AMR are the methods the user passed so far ("pwd").
	AMR []string
	// Enrol is true when the user must set up a factor (policy) before
	// the sign-in completes, rather than use one.
	Enrol     bool
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MFA stores factors, recovery codes and pending second steps.
type MFA interface {
	// CreateMFAFactor returns ErrConflict if the id exists and ErrNotFound
	// if the user does not.
	CreateMFAFactor(ctx context.Context, f MFAFactor) error
	// GetMFAFactor returns ErrNotFound if absent.
	GetMFAFactor(ctx context.Context, id string) (MFAFactor, error)
	// ListMFAFactors returns the user's factors, pending ones too, oldest
	// first (ties by id).
	ListMFAFactors(ctx context.Context, userID string) ([]MFAFactor, error)
	// ConfirmMFAFactor sets ConfirmedAt and LastStep of a pending factor;
	// ErrNotFound if absent or already confirmed.
	ConfirmMFAFactor(ctx context.Context, id string, at time.Time, step int64) error
	// AdvanceMFAStep sets LastStep to step if step is greater than the
	// stored one, atomically; ErrConflict if it is not (the step was used:
	// of two sign-ins with the same code, one wins), ErrNotFound if absent.
	AdvanceMFAStep(ctx context.Context, id string, step int64) error
	// DeleteMFAFactor returns ErrNotFound if absent.
	DeleteMFAFactor(ctx context.Context, id string) error
	// DeleteMFAFactors removes every factor of the user and returns how
	// many there were.
	DeleteMFAFactors(ctx context.Context, userID string) (int, error)

	// ReplaceRecoveryCodes makes digests the user's recovery codes (unused,
	// created at), removing the previous ones; ErrNotFound if no user.
	ReplaceRecoveryCodes(ctx context.Context, userID string, digests []string, at time.Time) error
	// UseRecoveryCode marks the user's unused code with digest used at at;
	// ErrNotFound if there is none (never issued, or used already).
	UseRecoveryCode(ctx context.Context, userID, digest string, at time.Time) error
	// CountRecoveryCodes returns how many unused codes the user has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
	// DeleteRecoveryCodes removes every code of the user, used or not, and
	// returns how many there were.
	DeleteRecoveryCodes(ctx context.Context, userID string) (int, error)

	// CreateMFAChallenge returns ErrConflict if the id exists and
	// ErrNotFound if the user does not.
	CreateMFAChallenge(ctx context.Context, c MFAChallenge) error
	// GetMFAChallenge returns ErrNotFound if absent or expired (relative
	// to now).
	GetMFAChallenge(ctx context.Context, id string, now time.Time) (MFAChallenge, error)
	// CountMFAChallengeFailure adds one to Attempts and returns the new
	// count, atomically; ErrNotFound if absent.
	CountMFAChallengeFailure(ctx context.Context, id string) (int, error)
	// DeleteMFAChallenge returns ErrNotFound if absent: of two requests
	// completing one challenge, only one finds it.
	DeleteMFAChallenge(ctx context.Context, id string) error
	// DeleteExpiredMFAChallenges removes up to limit expired challenges.
	DeleteExpiredMFAChallenges(ctx context.Context, now time.Time, limit int) (int, error)
}
