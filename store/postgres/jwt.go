package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// JWT ids

// MarkJWTIDUsed records jti until expiresAt in one statement: an expired
// record of the same jti is taken over, an unexpired one makes the upsert
// change nothing and return no row, which is ErrConflict. Two concurrent
// marks of one jti serialize on its key, so only one succeeds.
func (s *Store) MarkJWTIDUsed(ctx context.Context, jti string, expiresAt, now time.Time) error {
	var marked bool
	err := s.db(ctx).QueryRow(ctx, `INSERT INTO jwt_ids (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE jwt_ids.expires_at <= $3
		RETURNING true`, jti, expiresAt, now).Scan(&marked)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: mark JWT id used: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: mark JWT id used: %w", err)
	}
	return nil
}

// IsJWTIDUsed reports whether jti is recorded and unexpired at now.
func (s *Store) IsJWTIDUsed(ctx context.Context, jti string, now time.Time) (bool, error) {
	var used bool
	err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jwt_ids WHERE jti = $1 AND expires_at > $2)`,
		jti, now).Scan(&used)
	if err != nil {
		return false, fmt.Errorf("postgres: is JWT id used: %w", err)
	}
	return used, nil
}

// DeleteExpiredJWTIDs removes up to limit expired records.
func (s *Store) DeleteExpiredJWTIDs(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, expiringJWTIDs, "JWT ids", now, limit)
}

// ---------------------------------------------------------------------------
// Trusted issuers

const trustedIssuerColumns = `id, issuer, subject, key_id, public_key, scopes, expires_at, created_at`

func scanTrustedIssuer(row pgx.Row) (store.TrustedIssuer, error) {
	var t store.TrustedIssuer
	if err := row.Scan(&t.ID, &t.Issuer, &t.Subject, &t.KeyID, &t.PublicKey, &t.Scopes, &t.ExpiresAt,
		&t.CreatedAt); err != nil {
		return store.TrustedIssuer{}, err
	}
	t.Scopes = list(t.Scopes)
	t.ExpiresAt, t.CreatedAt = utc(t.ExpiresAt), utc(t.CreatedAt)
	return t, nil
}

func (s *Store) queryTrustedIssuers(ctx context.Context, sql string, args ...any) ([]store.TrustedIssuer, error) {
	rows, err := s.db(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.TrustedIssuer, error) {
		return scanTrustedIssuer(r)
	})
}

// CreateTrustedIssuer returns ErrConflict if (issuer, subject, key id) exists.
func (s *Store) CreateTrustedIssuer(ctx context.Context, t store.TrustedIssuer) error {
	id, ok := parseUUID(t.ID)
	if !ok {
		return fmt.Errorf("postgres: create trusted issuer: id %q is not a UUID", t.ID)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO trusted_issuers (`+trustedIssuerColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, t.Issuer, t.Subject, t.KeyID, jsonArg(t.PublicKey), list(t.Scopes), t.ExpiresAt, t.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create trusted issuer %q: %w", t.Issuer, classify(err, nil))
	}
	return nil
}

// ListTrustedIssuers returns every trust relationship, by issuer, subject
// and key id.
func (s *Store) ListTrustedIssuers(ctx context.Context) ([]store.TrustedIssuer, error) {
	out, err := s.queryTrustedIssuers(ctx, `SELECT `+trustedIssuerColumns+` FROM trusted_issuers
		ORDER BY issuer, subject, key_id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list trusted issuers: %w", err)
	}
	return out, nil
}

// FindTrustedIssuerKeys returns the unexpired relationships of issuer that
// allow subject, optionally narrowed to one key id.
func (s *Store) FindTrustedIssuerKeys(ctx context.Context, issuer, subject, keyID string, now time.Time) ([]store.TrustedIssuer, error) {
	out, err := s.queryTrustedIssuers(ctx, `SELECT `+trustedIssuerColumns+` FROM trusted_issuers
		WHERE issuer = $1 AND (subject = $2 OR subject = '') AND ($3 = '' OR key_id = $3) AND expires_at > $4
		ORDER BY subject, key_id`, issuer, subject, keyID, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: find trusted issuer keys: %w", err)
	}
	return out, nil
}

// DeleteTrustedIssuer returns ErrNotFound if absent.
func (s *Store) DeleteTrustedIssuer(ctx context.Context, id string) error {
	uid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: delete trusted issuer %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM trusted_issuers WHERE id = $1`, uid)
	if err != nil {
		return fmt.Errorf("postgres: delete trusted issuer %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete trusted issuer %q: %w", id, store.ErrNotFound)
	}
	return nil
}
