package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Upstream identity providers

const identityProviderColumns = `id, display_name, issuer, client_id, client_secret_enc, scopes,
	username_claim, email_claim, name_claim, link_by_verified_email, new_user_status, new_user_roles,
	enabled, created_at, updated_at`

func scanIdentityProvider(row pgx.Row) (store.IdentityProvider, error) {
	var p store.IdentityProvider
	var status string
	if err := row.Scan(&p.ID, &p.DisplayName, &p.Issuer, &p.ClientID, &p.ClientSecretEnc, &p.Scopes,
		&p.UsernameClaim, &p.EmailClaim, &p.NameClaim, &p.LinkByVerifiedEmail, &status, &p.NewUserRoles,
		&p.Enabled, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return store.IdentityProvider{}, err
	}
	p.NewUserStatus = store.UserStatus(status)
	p.Scopes, p.NewUserRoles = list(p.Scopes), list(p.NewUserRoles)
	if len(p.ClientSecretEnc) == 0 {
		p.ClientSecretEnc = nil
	}
	p.CreatedAt, p.UpdatedAt = utc(p.CreatedAt), utc(p.UpdatedAt)
	return p, nil
}

func secretArg(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// CreateIdentityProvider returns ErrConflict if the id is taken.
func (s *Store) CreateIdentityProvider(ctx context.Context, p store.IdentityProvider) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO identity_providers (`+identityProviderColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		p.ID, p.DisplayName, p.Issuer, p.ClientID, secretArg(p.ClientSecretEnc), list(p.Scopes),
		p.UsernameClaim, p.EmailClaim, p.NameClaim, p.LinkByVerifiedEmail, string(p.NewUserStatus), list(p.NewUserRoles),
		p.Enabled, p.CreatedAt, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create identity provider: %w", classify(err, nil))
	}
	return nil
}

// GetIdentityProvider returns ErrNotFound if absent.
func (s *Store) GetIdentityProvider(ctx context.Context, id string) (store.IdentityProvider, error) {
	p, err := scanIdentityProvider(s.db(ctx).QueryRow(ctx, `SELECT `+identityProviderColumns+`
		FROM identity_providers WHERE id = $1`, id))
	if err != nil {
		return store.IdentityProvider{}, fmt.Errorf("postgres: get identity provider: %w", classify(err, nil))
	}
	return p, nil
}

// ListIdentityProviders returns every provider by id.
func (s *Store) ListIdentityProviders(ctx context.Context) ([]store.IdentityProvider, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+identityProviderColumns+` FROM identity_providers ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list identity providers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.IdentityProvider, error) {
		return scanIdentityProvider(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list identity providers: %w", err)
	}
	if out == nil {
		out = []store.IdentityProvider{}
	}
	return out, nil
}

// UpdateIdentityProvider replaces the provider's fields; ErrNotFound if
// absent.
func (s *Store) UpdateIdentityProvider(ctx context.Context, p store.IdentityProvider) error {
	return s.exec1(ctx, "update identity provider", `UPDATE identity_providers SET display_name = $2, issuer = $3,
		client_id = $4, client_secret_enc = $5, scopes = $6, username_claim = $7, email_claim = $8, name_claim = $9,
		link_by_verified_email = $10, new_user_status = $11, new_user_roles = $12, enabled = $13, updated_at = $14
		WHERE id = $1`,
		p.ID, p.DisplayName, p.Issuer, p.ClientID, secretArg(p.ClientSecretEnc), list(p.Scopes),
		p.UsernameClaim, p.EmailClaim, p.NameClaim, p.LinkByVerifiedEmail, string(p.NewUserStatus), list(p.NewUserRoles),
		p.Enabled, p.UpdatedAt)
}

// DeleteIdentityProvider removes the provider; its links go with it (ON
// DELETE CASCADE).
func (s *Store) DeleteIdentityProvider(ctx context.Context, id string) error {
	return s.exec1(ctx, "delete identity provider", `DELETE FROM identity_providers WHERE id = $1`, id)
}

const linkedIdentityColumns = `id, user_id, provider_id, issuer, subject, email, created_at, last_used_at`

func scanLinkedIdentity(row pgx.Row) (store.LinkedIdentity, error) {
	var l store.LinkedIdentity
	if err := row.Scan(&l.ID, &l.UserID, &l.ProviderID, &l.Issuer, &l.Subject, &l.Email,
		&l.CreatedAt, &l.LastUsedAt); err != nil {
		return store.LinkedIdentity{}, err
	}
	l.CreatedAt, l.LastUsedAt = utc(l.CreatedAt), utcPtr(l.LastUsedAt)
	return l, nil
}

// CreateLinkedIdentity returns ErrConflict if the id or (issuer, subject)
// is taken and ErrNotFound if the user or provider does not exist.
func (s *Store) CreateLinkedIdentity(ctx context.Context, l store.LinkedIdentity) error {
	id, ok := parseUUID(l.ID)
	if !ok {
		return fmt.Errorf("postgres: create linked identity: id %q is not a UUID", l.ID)
	}
	uid, ok := parseUUID(l.UserID)
	if !ok {
		return fmt.Errorf("postgres: create linked identity: user %q: %w", l.UserID, store.ErrNotFound)
	}
	if l.Issuer == "" || l.Subject == "" {
		return fmt.Errorf("postgres: create linked identity: issuer and subject are required")
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO linked_identities (`+linkedIdentityColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, uid, l.ProviderID, l.Issuer, l.Subject, l.Email, l.CreatedAt, l.LastUsedAt)
	if err != nil {
		return fmt.Errorf("postgres: create linked identity: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// GetLinkedIdentity returns the link of (issuer, subject).
func (s *Store) GetLinkedIdentity(ctx context.Context, issuer, subject string) (store.LinkedIdentity, error) {
	l, err := scanLinkedIdentity(s.db(ctx).QueryRow(ctx, `SELECT `+linkedIdentityColumns+`
		FROM linked_identities WHERE issuer = $1 AND subject = $2`, issuer, subject))
	if err != nil {
		return store.LinkedIdentity{}, fmt.Errorf("postgres: get linked identity: %w", classify(err, nil))
	}
	return l, nil
}

// ListLinkedIdentities returns the user's links, oldest first.
func (s *Store) ListLinkedIdentities(ctx context.Context, userID string) ([]store.LinkedIdentity, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return []store.LinkedIdentity{}, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT `+linkedIdentityColumns+` FROM linked_identities
		WHERE user_id = $1 ORDER BY created_at, id`, uid)
	if err != nil {
		return nil, fmt.Errorf("postgres: list linked identities: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.LinkedIdentity, error) {
		return scanLinkedIdentity(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list linked identities: %w", err)
	}
	if out == nil {
		out = []store.LinkedIdentity{}
	}
	return out, nil
}

// TouchLinkedIdentity sets LastUsedAt; ErrNotFound if absent.
func (s *Store) TouchLinkedIdentity(ctx context.Context, id string, at time.Time) error {
	lid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: touch linked identity: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "touch linked identity", `UPDATE linked_identities SET last_used_at = $2 WHERE id = $1`, lid, at)
}

// DeleteLinkedIdentity deletes the user's link; ErrNotFound if absent or
// another user's.
func (s *Store) DeleteLinkedIdentity(ctx context.Context, userID, id string) error {
	uid, ok := parseUUID(userID)
	lid, lok := parseUUID(id)
	if !ok || !lok {
		return fmt.Errorf("postgres: delete linked identity: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "delete linked identity", `DELETE FROM linked_identities WHERE id = $1 AND user_id = $2`, lid, uid)
}
