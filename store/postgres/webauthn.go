package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Passkeys (WebAuthn)

const credentialColumns = `id, user_id, credential_id, public_key, sign_count, clone_warning, flags,
	attestation_type, transports, aaguid, name, created_at, last_used_at`

func scanCredential(row pgx.Row) (store.WebAuthnCredential, error) {
	var c store.WebAuthnCredential
	var flags int16
	if err := row.Scan(&c.ID, &c.UserID, &c.CredentialID, &c.PublicKey, &c.SignCount, &c.CloneWarning, &flags,
		&c.AttestationType, &c.Transports, &c.AAGUID, &c.Name, &c.CreatedAt, &c.LastUsedAt); err != nil {
		return store.WebAuthnCredential{}, err
	}
	c.Flags = int(flags)
	c.Transports = list(c.Transports)
	if len(c.AAGUID) == 0 {
		c.AAGUID = nil
	}
	c.CreatedAt, c.LastUsedAt = utc(c.CreatedAt), utcPtr(c.LastUsedAt)
	return c, nil
}

// CreateWebAuthnCredential returns ErrConflict if the id or the credential
// id is taken and ErrNotFound if the user does not exist.
func (s *Store) CreateWebAuthnCredential(ctx context.Context, c store.WebAuthnCredential) error {
	id, ok := parseUUID(c.ID)
	if !ok {
		return fmt.Errorf("postgres: create webauthn credential: id %q is not a UUID", c.ID)
	}
	uid, ok := parseUUID(c.UserID)
	if !ok {
		return fmt.Errorf("postgres: create webauthn credential: user %q: %w", c.UserID, store.ErrNotFound)
	}
	if len(c.CredentialID) == 0 || len(c.PublicKey) == 0 {
		return fmt.Errorf("postgres: create webauthn credential: credential id and public key are required")
	}
	var aaguid any
	if len(c.AAGUID) > 0 {
		aaguid = c.AAGUID
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO webauthn_credentials (`+credentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		id, uid, c.CredentialID, c.PublicKey, c.SignCount, c.CloneWarning, int16(c.Flags),
		c.AttestationType, list(c.Transports), aaguid, c.Name, c.CreatedAt, c.LastUsedAt)
	if err != nil {
		return fmt.Errorf("postgres: create webauthn credential: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// GetWebAuthnCredential finds a credential by the authenticator's id;
// ErrNotFound if absent.
func (s *Store) GetWebAuthnCredential(ctx context.Context, credentialID []byte) (store.WebAuthnCredential, error) {
	c, err := scanCredential(s.db(ctx).QueryRow(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials
		WHERE credential_id = $1`, credentialID))
	if err != nil {
		return store.WebAuthnCredential{}, fmt.Errorf("postgres: get webauthn credential: %w", classify(err, nil))
	}
	return c, nil
}

// ListWebAuthnCredentials returns the user's credentials, oldest first.
func (s *Store) ListWebAuthnCredentials(ctx context.Context, userID string) ([]store.WebAuthnCredential, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return []store.WebAuthnCredential{}, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials
		WHERE user_id = $1 ORDER BY created_at, id`, uid)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webauthn credentials: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.WebAuthnCredential, error) {
		return scanCredential(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list webauthn credentials: %w", err)
	}
	if out == nil {
		out = []store.WebAuthnCredential{}
	}
	return out, nil
}

// UpdateWebAuthnCredentialUse records a use; ErrNotFound if absent.
func (s *Store) UpdateWebAuthnCredentialUse(ctx context.Context, id string, signCount int64, cloneWarning bool, flags int, at time.Time) error {
	cid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: update webauthn credential use: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "update webauthn credential use", `UPDATE webauthn_credentials
		SET sign_count = $2, clone_warning = $3, flags = $4, last_used_at = $5 WHERE id = $1`,
		cid, signCount, cloneWarning, int16(flags), at)
}

// DeleteWebAuthnCredential deletes the user's credential; ErrNotFound if
// absent or another user's.
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	uid, ok := parseUUID(userID)
	cid, cok := parseUUID(id)
	if !ok || !cok {
		return fmt.Errorf("postgres: delete webauthn credential: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "delete webauthn credential", `DELETE FROM webauthn_credentials WHERE id = $1 AND user_id = $2`,
		cid, uid)
}

// CreateWebAuthnCeremony returns ErrConflict if the id exists and
// ErrNotFound if the user does not.
func (s *Store) CreateWebAuthnCeremony(ctx context.Context, c store.WebAuthnCeremony) error {
	uid, ok := optionalUUID(c.UserID)
	if !ok {
		return fmt.Errorf("postgres: create webauthn ceremony: user %q: %w", c.UserID, store.ErrNotFound)
	}
	if len(c.SessionData) == 0 {
		return fmt.Errorf("postgres: create webauthn ceremony: session data is required")
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO webauthn_ceremonies (id, user_id, kind, session_data, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, c.ID, uid, c.Kind, jsonArg(c.SessionData), c.ExpiresAt)
	if err != nil {
		return fmt.Errorf("postgres: create webauthn ceremony: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// TakeWebAuthnCeremony deletes and returns the ceremony in one statement,
// so that two concurrent finishes cannot both have it.
func (s *Store) TakeWebAuthnCeremony(ctx context.Context, id, kind string, now time.Time) (store.WebAuthnCeremony, error) {
	var c store.WebAuthnCeremony
	var uid *string
	err := s.db(ctx).QueryRow(ctx, `DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2
		RETURNING id, user_id, kind, session_data, expires_at`, id, kind).
		Scan(&c.ID, &uid, &c.Kind, &c.SessionData, &c.ExpiresAt)
	if err != nil {
		return store.WebAuthnCeremony{}, fmt.Errorf("postgres: take webauthn ceremony: %w", classify(err, nil))
	}
	if !now.Before(c.ExpiresAt) {
		return store.WebAuthnCeremony{}, fmt.Errorf("postgres: take webauthn ceremony: expired: %w", store.ErrNotFound)
	}
	if uid != nil {
		c.UserID = *uid
	}
	c.ExpiresAt = utc(c.ExpiresAt)
	return c, nil
}

// DeleteExpiredWebAuthnCeremonies removes up to limit expired ceremonies.
func (s *Store) DeleteExpiredWebAuthnCeremonies(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, expiringWebAuthnCeremonies, "webauthn ceremonies", now, limit)
}
