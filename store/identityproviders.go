package store

import (
	"context"
	"time"
)

// ---------------------------------------------------------------------------
// Upstream identity providers

// IdentityProvider is an upstream OpenID Connect provider people may sign
// in with ("Sign in with <DisplayName>" on the login page).
type IdentityProvider struct {
	// ID is a slug (lowercase letters, digits, "-"), part of the callback
	// path and the audit log's target.
	ID          string
	DisplayName string
	// Issuer is the upstream's issuer URL; its discovery document gives
	// the endpoints and keys.
	Issuer   string
	ClientID string
	// ClientSecretEnc is the client secret, sealed by the domain
	// (AES-GCM, the provider id as additional data); the store never sees
	// it in the clear. Empty for a public client.
	ClientSecretEnc []byte
	// Scopes are asked for beside "openid"; never nil once stored.
	Scopes []string
	// UsernameClaim, EmailClaim and NameClaim name the upstream claims a
	// new user's username, email and full name come from.
	UsernameClaim string
	EmailClaim    string
	NameClaim     string
	// LinkByVerifiedEmail links a first sign-in to the existing user with
	// the same email, when the upstream says the email is verified.
	LinkByVerifiedEmail bool
	// NewUserStatus and NewUserRoles are what a user created by a first
	// sign-in gets; NewUserRoles never nil once stored.
	NewUserStatus UserStatus
	NewUserRoles  []string
	// Enabled providers are offered on the login page; a disabled one
	// refuses every sign-in.
	Enabled   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LinkedIdentity ties a user to an upstream account, named by the upstream's
// issuer and subject: one upstream account links to at most one user.
type LinkedIdentity struct {
	ID         string // UUID
	UserID     string
	ProviderID string
	Issuer     string
	Subject    string
	// Email is the upstream email at linking time, to name the link on the
	// security page ("" if the upstream gave none).
	Email      string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// IdentityProviders stores upstream providers and the identities linked to
// them.
type IdentityProviders interface {
	// CreateIdentityProvider returns ErrConflict if the id is taken.
	CreateIdentityProvider(ctx context.Context, p IdentityProvider) error
	// GetIdentityProvider returns ErrNotFound if absent.
	GetIdentityProvider(ctx context.Context, id string) (IdentityProvider, error)
	// ListIdentityProviders returns every provider, by id (empty, not nil,
	// if none).
	ListIdentityProviders(ctx context.Context) ([]IdentityProvider, error)
	// UpdateIdentityProvider replaces every field but ID and CreatedAt;
	// ErrNotFound if absent.
	UpdateIdentityProvider(ctx context.Context, p IdentityProvider) error
	// DeleteIdentityProvider removes the provider and every identity
	// linked through it; ErrNotFound if absent.
	DeleteIdentityProvider(ctx context.Context, id string) error

	// CreateLinkedIdentity returns ErrConflict if the id is taken or the
	// (issuer, subject) pair is linked already (to anyone), and ErrNotFound
	// if the user or the provider does not exist.
	CreateLinkedIdentity(ctx context.Context, l LinkedIdentity) error
	// GetLinkedIdentity returns the link of (issuer, subject); ErrNotFound
	// if none.
	GetLinkedIdentity(ctx context.Context, issuer, subject string) (LinkedIdentity, error)
	// ListLinkedIdentities returns the user's links, oldest first (ties by
	// id; empty, not nil, if none).
	ListLinkedIdentities(ctx context.Context, userID string) ([]LinkedIdentity, error)
	// TouchLinkedIdentity sets LastUsedAt; ErrNotFound if absent.
	TouchLinkedIdentity(ctx context.Context, id string, at time.Time) error
	// DeleteLinkedIdentity deletes the user's link with id; ErrNotFound if
	// absent or another user's.
	DeleteLinkedIdentity(ctx context.Context, userID, id string) error
}
