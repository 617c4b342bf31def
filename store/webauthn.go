package store

import (
	"context"
	"encoding/json"
	"time"
)

// ---------------------------------------------------------------------------
// Passkeys (WebAuthn)

// WebAuthnCredential is a passkey registered to a user: what the relying
// party keeps of a public key credential to verify its later assertions.
type WebAuthnCredential struct {
	// ID is our id (a UUID), the one pages and the audit log name.
	ID     string
	UserID string
	// CredentialID is the authenticator's credential id, unique across
	// every user.
	CredentialID []byte
	// PublicKey is the COSE-encoded credential public key.
	PublicKey []byte
	// SignCount is the last signature counter seen; 0 for authenticators
	// that keep none (most synced passkeys).
	SignCount int64
	// CloneWarning is set once an assertion came with a counter at or
	// below SignCount: two copies of the key may exist.
	CloneWarning bool
	// Flags is the authenticator data flags byte of the registration,
	// updated at each use (backup state may change; backup eligibility
	// may not).
	Flags int
	// AttestationType is the attestation type of the registration ("none"
	// for the attestation-free registrations we ask for).
	AttestationType string
	// Transports are the transports the browser reported ("internal",
	// "usb", "hybrid", ...), never nil once stored.
	Transports []string
	// AAGUID names the authenticator model (16 bytes, zero when not told).
	AAGUID     []byte
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// WebAuthnCeremony is the server-side state of one WebAuthn ceremony
// between its begin and its finish: the challenge and what it was begun
// for.
type WebAuthnCeremony struct {
	// ID is a digest of the secret the browser holds (a cookie), so that
	// the table never holds a usable ceremony handle.
	ID string
	// UserID is the user the ceremony is for; "" for a passwordless
	// sign-in, where nobody is known until the assertion names them.
	UserID string
	// Kind is what the ceremony was begun for ("register", "login",
	// "factor"); a finish of another kind must not consume it.
	Kind string
	// SessionData is the library's session data, as JSON.
	SessionData json.RawMessage
	ExpiresAt   time.Time
}

// WebAuthn stores passkeys and the state of their ceremonies.
type WebAuthn interface {
	// CreateWebAuthnCredential returns ErrConflict if the credential id is
	// registered already (to anyone) or the id is taken, and ErrNotFound if
	// the user does not exist.
	CreateWebAuthnCredential(ctx context.Context, c WebAuthnCredential) error
	// GetWebAuthnCredential returns the credential with the authenticator's
	// credential id; ErrNotFound if absent.
	GetWebAuthnCredential(ctx context.Context, credentialID []byte) (WebAuthnCredential, error)
	// ListWebAuthnCredentials returns the user's credentials, oldest first
	// (empty, not nil, if none).
	ListWebAuthnCredentials(ctx context.Context, userID string) ([]WebAuthnCredential, error)
	// UpdateWebAuthnCredentialUse records a use of the credential with id:
	// its new counter, clone warning and flags, and LastUsedAt = at;
	// ErrNotFound if absent.
	UpdateWebAuthnCredentialUse(ctx context.Context, id string, signCount int64, cloneWarning bool, flags int, at time.Time) error
	// DeleteWebAuthnCredential deletes the user's credential with id;
	// ErrNotFound if absent or another user's.
	DeleteWebAuthnCredential(ctx context.Context, userID, id string) error

	// CreateWebAuthnCeremony returns ErrConflict if the id exists and
	// ErrNotFound if UserID is set and names no user.
	CreateWebAuthnCeremony(ctx context.Context, c WebAuthnCeremony) error
	// TakeWebAuthnCeremony deletes the ceremony with id and kind and returns
	// it, so that each is used at most once even by concurrent finishes;
	// ErrNotFound if absent, of another kind (it then stays), or expired
	// at now (it is then deleted).
	TakeWebAuthnCeremony(ctx context.Context, id, kind string, now time.Time) (WebAuthnCeremony, error)
	// DeleteExpiredWebAuthnCeremonies removes up to limit expired ceremonies.
	DeleteExpiredWebAuthnCeremonies(ctx context.Context, now time.Time, limit int) (int, error)
}
