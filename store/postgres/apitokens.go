package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

const apiTokenColumns = `id, name, kind, coalesce(user_id::text, ''), coalesce(client_id, ''), scopes,
	secret_hash, created_by, created_at, expires_at, last_used_at, revoked_at`

func scanAPIToken(row pgx.Row) (store.APIToken, error) {
	var t store.APIToken
	var kind string
	if err := row.Scan(&t.ID, &t.Name, &kind, &t.UserID, &t.ClientID, &t.Scopes, &t.SecretHash, &t.CreatedBy,
		&t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt, &t.RevokedAt); err != nil {
		return store.APIToken{}, err
	}
	t.Kind = store.APITokenKind(kind)
	t.Scopes = list(t.Scopes)
	t.CreatedAt, t.ExpiresAt = utc(t.CreatedAt), utc(t.ExpiresAt)
	t.LastUsedAt, t.RevokedAt = utcPtr(t.LastUsedAt), utcPtr(t.RevokedAt)
	return t, nil
}

func collectAPITokens(rows pgx.Rows) ([]store.APIToken, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.APIToken, error) { return scanAPIToken(r) })
}

// CreateAPIToken stores t. A missing user or client fails a foreign key
// (ErrNotFound); a taken id or secret digest is ErrConflict. The database
// also checks that the kind and the principal agree (a system token has a
// client and no user, the others a user and no client).
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	id, ok := parseUUID(t.ID)
	if !ok {
		return fmt.Errorf("postgres: create API token %q: id is not a UUID", t.ID)
	}
	userID, ok := optionalUUID(t.UserID)
	if !ok {
		return fmt.Errorf("postgres: create API token %q: user %q: %w", t.ID, t.UserID, store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO api_tokens (id, name, kind, user_id, client_id, scopes,
			secret_hash, created_by, created_at, expires_at, last_used_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		id, t.Name, string(t.Kind), userID, optionalText(t.ClientID), list(t.Scopes), t.SecretHash,
		t.CreatedBy, t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt)
	if err != nil {
		return fmt.Errorf("postgres: create API token %q: %w", t.ID, classify(err, store.ErrNotFound))
	}
	return nil
}

// GetAPIToken returns ErrNotFound if there is no such token.
func (s *Store) GetAPIToken(ctx context.Context, id string) (store.APIToken, error) {
	tid, ok := parseUUID(id)
	if !ok {
		return store.APIToken{}, fmt.Errorf("postgres: get API token %q: %w", id, store.ErrNotFound)
	}
	t, err := scanAPIToken(s.db(ctx).QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE id = $1`, tid))
	if err != nil {
		return store.APIToken{}, fmt.Errorf("postgres: get API token %q: %w", id, classify(err, nil))
	}
	return t, nil
}

// GetAPITokenBySecretHash looks the digest up through its unique index. The
// digest is not quoted in errors: it identifies a live secret.
func (s *Store) GetAPITokenBySecretHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	if len(hash) == 0 {
		return store.APIToken{}, fmt.Errorf("postgres: get API token by secret: %w", store.ErrNotFound)
	}
	t, err := scanAPIToken(s.db(ctx).QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens
		WHERE secret_hash = $1`, hash))
	if err != nil {
		return store.APIToken{}, fmt.Errorf("postgres: get API token by secret: %w", classify(err, nil))
	}
	return t, nil
}

// ListAPITokens returns tokens newest first, narrowed to a user and/or a
// client when given.
func (s *Store) ListAPITokens(ctx context.Context, userID, clientID string) ([]store.APIToken, error) {
	var where []string
	var args []any
	if userID != "" {
		uid, ok := parseUUID(userID)
		if !ok {
			return []store.APIToken{}, nil
		}
		args = append(args, uid)
		where = append(where, fmt.Sprintf(`user_id = $%d`, len(args)))
	}
	if clientID != "" {
		args = append(args, clientID)
		where = append(where, fmt.Sprintf(`client_id = $%d`, len(args)))
	}
	sql := `SELECT ` + apiTokenColumns + ` FROM api_tokens`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.db(ctx).Query(ctx, sql+` ORDER BY created_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list API tokens: %w", err)
	}
	tokens, err := collectAPITokens(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list API tokens: %w", err)
	}
	return tokens, nil
}

// RevokeAPIToken sets RevokedAt once: a second revocation is ErrNotFound, as
// the contract says, and keeps the first time.
func (s *Store) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	tid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: revoke API token %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
		tid, at)
	if err != nil {
		return fmt.Errorf("postgres: revoke API token %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: revoke API token %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// TouchAPIToken sets LastUsedAt; ErrNotFound if there is no such token.
func (s *Store) TouchAPIToken(ctx context.Context, id string, at time.Time) error {
	tid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: touch API token %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, tid, at)
	if err != nil {
		return fmt.Errorf("postgres: touch API token %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: touch API token %q: %w", id, store.ErrNotFound)
	}
	return nil
}
