package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.RefreshTokens = (*Store)(nil)

// refreshTokenSelect is GetToken's statement for a refresh token, locked
// inside a transaction.
const refreshTokenSelect = `SELECT t.kind, t.signature, t.request_id, g.client_id, g.subject, coalesce(g.user_id::text, ''),
		coalesce(g.login_session_id, ''), t.granted_scopes, t.requested_at, t.expires_at, t.active, t.request,
		coalesce(t.predecessor, ''), t.rotated_at, t.rewound_at
	FROM oauth_tokens t JOIN grants g ON g.id = t.request_id
	WHERE t.kind = 'refresh_token' AND t.signature = $1`

// refreshUserSelect reads the user of the refresh token's grant, as GetUser
// does. Sent after the token's statement in one batch, it runs once the
// row lock is granted, with a snapshot of its own (READ COMMITTED): a user
// locked by a transaction the lock waited for is read locked.
const refreshUserSelect = userWithRoles + ` WHERE u.id = (SELECT g.user_id
	FROM oauth_tokens t JOIN grants g ON g.id = t.request_id
	WHERE t.kind = 'refresh_token' AND t.signature = $1)`

// GetRefreshToken sends the token's statement and the user's as one batch:
// one round trip.
func (s *Store) GetRefreshToken(ctx context.Context, signature string) (store.Token, *store.User, error) {
	sql := refreshTokenSelect
	if _, inTx := s.tx(ctx); inTx {
		sql += ` FOR UPDATE OF t`
	}
	b := &pgx.Batch{}
	var t store.Token
	var k string
	b.Queue(sql, signature).QueryRow(func(row pgx.Row) error {
		return row.Scan(&k, &t.Signature, &t.RequestID,
			&t.ClientID, &t.Subject, &t.UserID, &t.LoginSessionID, &t.GrantedScopes, &t.RequestedAt, &t.ExpiresAt,
			&t.Active, &t.Request, &t.Predecessor, &t.RotatedAt, &t.RewoundAt)
	})
	var user *store.User
	b.Queue(refreshUserSelect, signature).QueryRow(func(row pgx.Row) error {
		u, err := scanUser(row, true)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err == nil {
			user = &u
		}
		return err
	})
	if err := s.sendBatch(ctx, b); err != nil {
		return store.Token{}, nil, fmt.Errorf("postgres: get refresh token: %w", classify(err, nil))
	}
	t.Kind = store.TokenKind(k)
	t.GrantedScopes = list(t.GrantedScopes)
	t.RequestedAt, t.ExpiresAt = utc(t.RequestedAt), utc(t.ExpiresAt)
	t.RotatedAt, t.RewoundAt = utcPtr(t.RotatedAt), utcPtr(t.RewoundAt)
	return t, user, nil
}

// sendBatch runs b in the transaction ctx carries, or on a connection of
// the pool, with the statement deadline and outage rules of every query.
func (s *Store) sendBatch(ctx context.Context, b *pgx.Batch) error {
	bctx, cancel := s.bound(ctx)
	defer cancel()
	if tx, ok := s.tx(ctx); ok {
		return s.outage(ctx, tx.SendBatch(bctx, b).Close())
	}
	c, err := s.acquire(bctx)
	if err != nil {
		return s.outage(ctx, err)
	}
	defer release(c)
	return s.outage(ctx, c.SendBatch(bctx, b).Close())
}

// RotateRefreshToken is one statement: the one-use UPDATE of the presented
// token, and, only if it matched (FROM r, EXISTS: a one-time filter, so
// the DELETE keeps its index on the grant), the deletion of the grant's
// access tokens with its notification (tokenchanges.go) and the two
// inserts. The statement's sub-statements share one snapshot, so the
// DELETE does not see the access token inserted beside it. A DPoP-bound
// access token records its proof too, which CreateToken's statement does:
// that rare case takes the statements one by one, in a transaction.
//
// "(request_id = $2) IS TRUE" checks the grant on the row the primary key
// found; as an index condition it made the generic plan walk the grant's
// index, through every refresh token the rotation chain has left (they
// stay until they expire, for reuse detection): the database's CPU per
// refresh grew with the chain.
func (s *Store) RotateRefreshToken(ctx context.Context, r store.RefreshRotation) error {
	if r.Access.DPoPProof != nil {
		return s.rotateRefreshTokenByParts(ctx, r)
	}
	a, n := r.Access, r.Refresh
	if a.RequestID != n.RequestID {
		return fmt.Errorf("postgres: rotate refresh token: access token of grant %q, refresh token of %q", a.RequestID, n.RequestID)
	}
	nt := s.announce(store.ChangeGrantTokens, n.RequestID)
	var rotated int
	err := s.db(ctx).QueryRow(ctx, `
		WITH r AS (
			UPDATE oauth_tokens SET active = false, rotated_at = $3
			WHERE kind = 'refresh_token' AND signature = $1 AND active AND (request_id = $2) IS TRUE
			RETURNING request_id
		), d AS (
			DELETE FROM oauth_tokens WHERE request_id = $2 AND kind = 'access_token' AND EXISTS (SELECT FROM r)
		), a AS (
			INSERT INTO oauth_tokens (kind, signature, request_id, granted_scopes, requested_at, expires_at,
				active, request, predecessor, rotated_at, rewound_at)
			SELECT 'access_token', $4, request_id, $5, $6, $7, $8, $9, NULL, NULL, NULL FROM r
		), f AS (
			INSERT INTO oauth_tokens (kind, signature, request_id, granted_scopes, requested_at, expires_at,
				active, request, predecessor, rotated_at, rewound_at)
			SELECT 'refresh_token', $10, request_id, $11, $12, $13, $14, $15, $1, NULL, NULL FROM r
		), n AS (
			SELECT pg_notify('`+changeChannel+`', $16) FROM r
		)
		SELECT count(*) FROM n`,
		r.Signature, n.RequestID, r.At,
		a.Signature, list(a.GrantedScopes), a.RequestedAt, a.ExpiresAt, a.Active, blobArg(a.Request),
		n.Signature, list(n.GrantedScopes), n.RequestedAt, n.ExpiresAt, n.Active, blobArg(n.Request),
		nt.payload).Scan(&rotated)
	if err == nil && rotated == 0 {
		err = store.ErrNotFound
	}
	if err := nt.done(ctx, err, ""); err != nil {
		return fmt.Errorf("postgres: rotate refresh token: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// rotateRefreshTokenByParts is RotateRefreshToken in four statements.
func (s *Store) rotateRefreshTokenByParts(ctx context.Context, r store.RefreshRotation) error {
	err := s.inTx(ctx, func(ctx context.Context) error {
		if err := s.RotateToken(ctx, store.KindRefreshToken, r.Signature, r.At); err != nil {
			return err
		}
		if err := s.DeleteTokensByRequest(ctx, store.KindAccessToken, r.Refresh.RequestID); err != nil {
			return err
		}
		if err := s.CreateToken(ctx, r.Access); err != nil {
			return err
		}
		n := r.Refresh
		n.Predecessor = r.Signature
		return s.CreateToken(ctx, n)
	})
	if err != nil {
		return fmt.Errorf("postgres: rotate refresh token: %w", err)
	}
	return nil
}
