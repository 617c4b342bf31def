package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// CreateToken stores the grant (unless it exists) and the token in one
// statement: this is on the path of every token request, so it costs one
// round trip. The token's foreign key is checked at the end of the
// statement, when the grant row is visible.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	args, err := createTokenArgs(t)
	if err != nil {
		return err
	}
	if p := t.DPoPProof; p != nil {
		return s.createTokenWithProof(ctx, t.Kind, *p, args)
	}
	_, err = s.db(ctx).Exec(ctx, createTokenSQL, args...)
	if err != nil {
		// A missing client, user or login session fails a foreign key.
		return fmt.Errorf("postgres: create %s: %w", t.Kind, classify(err, store.ErrNotFound))
	}
	return nil
}

// createTokenSQL is CreateToken's statement, of createTokenArgs's
// arguments; CreateTokens (codes.go) sends it once per token in a batch.
const createTokenSQL = `
	WITH g AS (
		INSERT INTO grants (id, client_id, subject, user_id, login_session_id, granted_scopes, requested_at)
		VALUES ($3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO NOTHING
	)
	INSERT INTO oauth_tokens (kind, signature, request_id, granted_scopes, requested_at, expires_at,
		active, request, predecessor, rotated_at, rewound_at)
	VALUES ($1, $2, $3, $8, $9, $10, $11, $12, $13, $14, $15)`

// createTokenArgs are createTokenSQL's arguments for t; ErrNotFound if its
// user id is no UUID (so names no user).
func createTokenArgs(t store.Token) ([]any, error) {
	userID, ok := optionalUUID(t.UserID)
	if !ok {
		return nil, fmt.Errorf("postgres: create %s: user %q: %w", t.Kind, t.UserID, store.ErrNotFound)
	}
	return []any{string(t.Kind), t.Signature, t.RequestID, t.ClientID, t.Subject, userID, optionalText(t.LoginSessionID),
		list(t.GrantedScopes), t.RequestedAt, t.ExpiresAt, t.Active, blobArg(t.Request),
		optionalText(t.Predecessor), t.RotatedAt, t.RewoundAt}, nil
}

// createTokenWithProof is CreateToken's statement with UseDPoPProof's
// upsert in front: the grant and the token are written only if the proof
// was recorded, all in one round trip and one commit. Concurrent uses of
// one proof serialize on its primary key; the loser writes nothing.
func (s *Store) createTokenWithProof(ctx context.Context, kind store.TokenKind, p store.DPoPProofUse, args []any) error {
	if len(p.JTIHash) != 32 {
		return fmt.Errorf("postgres: create %s: DPoP proof digest of %d bytes, want 32", kind, len(p.JTIHash))
	}
	tag, err := s.db(ctx).Exec(ctx, `
		WITH p AS (
			INSERT INTO dpop_proofs (jti_hash, expires_at) VALUES ($16, $17)
			ON CONFLICT (jti_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE dpop_proofs.expires_at <= $18
			RETURNING true
		), g AS (
			INSERT INTO grants (id, client_id, subject, user_id, login_session_id, granted_scopes, requested_at)
			SELECT $3, $4, $5, $6, $7, $8, $9 FROM p
			ON CONFLICT (id) DO NOTHING
		)
		INSERT INTO oauth_tokens (kind, signature, request_id, granted_scopes, requested_at, expires_at,
			active, request, predecessor, rotated_at, rewound_at)
		SELECT $1, $2, $3, $8, $9, $10, $11, $12, $13, $14, $15 FROM p`,
		append(args, p.JTIHash, p.ExpiresAt, p.Now)...)
	if err != nil {
		return fmt.Errorf("postgres: create %s: %w", kind, classify(err, store.ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: create %s: %w", kind, store.ErrDPoPProofUsed)
	}
	return nil
}

// lockedKinds are the one-use tokens GetToken locks inside a transaction.
func lockedKind(k store.TokenKind) bool {
	return k == store.KindAuthorizeCode || k == store.KindRefreshToken
}

// GetToken reads a token with its grant's header. Inside a transaction, an
// authorization code or refresh token row is locked (FOR UPDATE): a second
// redemption waits for the first to commit, then reads active = false.
func (s *Store) GetToken(ctx context.Context, kind store.TokenKind, signature string) (store.Token, error) {
	sql := `SELECT t.kind, t.signature, t.request_id, g.client_id, g.subject, coalesce(g.user_id::text, ''),
			coalesce(g.login_session_id, ''), t.granted_scopes, t.requested_at, t.expires_at, t.active, t.request,
			coalesce(t.predecessor, ''), t.rotated_at, t.rewound_at
		FROM oauth_tokens t JOIN grants g ON g.id = t.request_id
		WHERE t.kind = $1 AND t.signature = $2`
	if _, inTx := s.tx(ctx); inTx && lockedKind(kind) {
		sql += ` FOR UPDATE OF t`
	}
	if kind == store.KindAccessToken {
		sql += ` UNION ALL ` + getClientTokenSQL // clienttokens.go
	}
	var t store.Token
	var k string
	err := s.db(ctx).QueryRow(ctx, sql, string(kind), signature).Scan(&k, &t.Signature, &t.RequestID,
		&t.ClientID, &t.Subject, &t.UserID, &t.LoginSessionID, &t.GrantedScopes, &t.RequestedAt, &t.ExpiresAt,
		&t.Active, &t.Request, &t.Predecessor, &t.RotatedAt, &t.RewoundAt)
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: get %s: %w", kind, classify(err, nil))
	}
	t.Kind = store.TokenKind(k)
	t.GrantedScopes = list(t.GrantedScopes)
	t.RequestedAt, t.ExpiresAt = utc(t.RequestedAt), utc(t.ExpiresAt)
	t.RotatedAt, t.RewoundAt = utcPtr(t.RotatedAt), utcPtr(t.RewoundAt)
	return t, nil
}

// DeactivateToken is the one-use rule: the UPDATE matches only an active
// row, so of two concurrent redemptions exactly one changes it.
func (s *Store) DeactivateToken(ctx context.Context, kind store.TokenKind, signature string) error {
	if kind == store.KindAccessToken {
		return s.changeAccessToken(ctx, "deactivate", `UPDATE oauth_tokens SET active = false
			WHERE kind = $1 AND signature = $2 AND active RETURNING request_id`,
			`UPDATE client_tokens SET active = false WHERE signature = $2 AND active RETURNING request_id`, signature)
	}
	tag, err := s.db(ctx).Exec(ctx, `UPDATE oauth_tokens SET active = false
		WHERE kind = $1 AND signature = $2 AND active`, string(kind), signature)
	if err != nil {
		return fmt.Errorf("postgres: deactivate %s: %w", kind, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: deactivate %s: %w", kind, store.ErrNotFound)
	}
	return nil
}

// changeAccessToken runs sql and clientSQL, statements on one access token
// ($1 the kind, $2 the signature) of oauth_tokens and of client_tokens
// returning its request_id, and notifies the change of its grant in the
// same statement. ErrNotFound if no row changed.
func (s *Store) changeAccessToken(ctx context.Context, verb, sql, clientSQL string, signature string) error {
	var requestID string
	n := s.announce(store.ChangeGrantTokens, "")
	err := s.db(ctx).QueryRow(ctx, `WITH t AS (`+sql+`), c AS (`+clientSQL+`),
		d AS (SELECT request_id FROM t UNION ALL SELECT request_id FROM c)
		SELECT d.request_id FROM d, LATERAL (SELECT pg_notify('`+changeChannel+`',
			json_build_object('kind', $3::text, 'id', d.request_id, 'n', $4::text)::text)) n`,
		string(store.KindAccessToken), signature, string(store.ChangeGrantTokens), n.nonce).Scan(&requestID)
	if err := n.done(ctx, err, requestID); err != nil {
		return fmt.Errorf("postgres: %s %s: %w", verb, store.KindAccessToken, classify(err, nil))
	}
	return nil
}

// RotateToken is DeactivateToken recording when: the same one-use UPDATE.
func (s *Store) RotateToken(ctx context.Context, kind store.TokenKind, signature string, at time.Time) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE oauth_tokens SET active = false, rotated_at = $3
		WHERE kind = $1 AND signature = $2 AND active`, string(kind), signature, at)
	if err != nil {
		return fmt.Errorf("postgres: rotate %s: %w", kind, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: rotate %s: %w", kind, store.ErrNotFound)
	}
	return nil
}

// RewindRotation locks the token, then its successors, before it decides:
// FOR UPDATE waits for a concurrent rotation or rewind to commit and then
// reads the row as that left it, so a successor rotated meanwhile reads
// inactive and a second rewind reads rewound_at set. The lock order (the
// token before its successors) is the order the token endpoint locks them
// in, so two rewinds cannot deadlock. It runs only when a rotated token is
// presented again, so its extra round trips cost nothing on the path of an
// ordinary refresh.
func (s *Store) RewindRotation(ctx context.Context, kind store.TokenKind, signature string, since, at time.Time) error {
	err := s.inTx(ctx, func(ctx context.Context) error {
		var eligible bool
		err := s.db(ctx).QueryRow(ctx, `SELECT coalesce(NOT active AND rotated_at >= $3 AND rewound_at IS NULL, false)
			FROM oauth_tokens WHERE kind = $1 AND signature = $2 FOR UPDATE`,
			string(kind), signature, since).Scan(&eligible)
		if err != nil {
			return classify(err, nil)
		}
		if !eligible {
			return store.ErrNotFound
		}
		rows, err := s.db(ctx).Query(ctx, `SELECT active FROM oauth_tokens
			WHERE kind = $1 AND predecessor = $2 FOR UPDATE`, string(kind), signature)
		if err != nil {
			return err
		}
		states, err := pgx.CollectRows(rows, pgx.RowTo[bool])
		if err != nil {
			return err
		}
		if !slices.Contains(states, true) {
			return store.ErrNotFound
		}
		_, err = s.db(ctx).Exec(ctx, `
			WITH successors AS (
				UPDATE oauth_tokens SET active = false WHERE kind = $1 AND predecessor = $2 AND active)
			UPDATE oauth_tokens SET active = true, rewound_at = $3 WHERE kind = $1 AND signature = $2`,
			string(kind), signature, at)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: rewind rotation of %s: %w", kind, err)
	}
	return nil
}

// DeleteToken removes one token; ErrNotFound if absent.
func (s *Store) DeleteToken(ctx context.Context, kind store.TokenKind, signature string) error {
	if kind == store.KindAccessToken {
		return s.changeAccessToken(ctx, "delete", `DELETE FROM oauth_tokens
			WHERE kind = $1 AND signature = $2 RETURNING request_id`,
			`DELETE FROM client_tokens WHERE signature = $2 RETURNING request_id`, signature)
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM oauth_tokens WHERE kind = $1 AND signature = $2`,
		string(kind), signature)
	if err != nil {
		return fmt.Errorf("postgres: delete %s: %w", kind, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete %s: %w", kind, store.ErrNotFound)
	}
	return nil
}

// DeactivateTokensByRequest marks the grant's tokens of the kind inactive.
func (s *Store) DeactivateTokensByRequest(ctx context.Context, kind store.TokenKind, requestID string) error {
	sql := `UPDATE oauth_tokens SET active = false WHERE request_id = $1 AND kind = $2 AND active`
	if kind == store.KindAccessToken {
		return s.changeGrantAccessTokens(ctx, "deactivate", sql,
			`UPDATE client_tokens SET active = false WHERE request_id = $1 AND active`, requestID)
	}
	_, err := s.db(ctx).Exec(ctx, sql, requestID, string(kind))
	if err != nil {
		return fmt.Errorf("postgres: deactivate %s of grant: %w", kind, err)
	}
	return nil
}

// DeleteTokensByRequest removes the grant's tokens of the kind.
func (s *Store) DeleteTokensByRequest(ctx context.Context, kind store.TokenKind, requestID string) error {
	sql := `DELETE FROM oauth_tokens WHERE request_id = $1 AND kind = $2`
	if kind == store.KindAccessToken {
		return s.changeGrantAccessTokens(ctx, "delete", sql, `DELETE FROM client_tokens WHERE request_id = $1`, requestID)
	}
	_, err := s.db(ctx).Exec(ctx, sql, requestID, string(kind))
	if err != nil {
		return fmt.Errorf("postgres: delete %s of grant: %w", kind, err)
	}
	return nil
}

// changeGrantAccessTokens runs sql and clientSQL, statements on the access
// tokens ($2) of a grant ($1) in oauth_tokens and in client_tokens, and
// notifies the change in the same statement: the notification is delivered
// if and only if the change commits.
func (s *Store) changeGrantAccessTokens(ctx context.Context, verb, sql, clientSQL, requestID string) error {
	n := s.announce(store.ChangeGrantTokens, requestID)
	_, err := s.db(ctx).Exec(ctx, `WITH d AS (`+sql+`), c AS (`+clientSQL+`) SELECT pg_notify('`+changeChannel+`', $3)`,
		requestID, string(store.KindAccessToken), n.payload)
	if err := n.done(ctx, err, ""); err != nil {
		return fmt.Errorf("postgres: %s %s of grant: %w", verb, store.KindAccessToken, err)
	}
	return nil
}

// GetGrant returns ErrNotFound if there is no such grant.
func (s *Store) GetGrant(ctx context.Context, requestID string) (store.Grant, error) {
	var g store.Grant
	err := s.db(ctx).QueryRow(ctx, getGrantSQL, requestID).Scan(&g.ID, &g.ClientID, &g.Subject, &g.UserID,
		&g.LoginSessionID, &g.GrantedScopes, &g.RequestedAt)
	if err != nil {
		return store.Grant{}, fmt.Errorf("postgres: get grant: %w", classify(err, nil))
	}
	g.GrantedScopes = list(g.GrantedScopes)
	g.RequestedAt = utc(g.RequestedAt)
	return g, nil
}

// RevokeGrant deactivates every token of the grant in one statement.
func (s *Store) RevokeGrant(ctx context.Context, requestID string) error {
	var found bool
	nt := s.announce(store.ChangeGrantTokens, requestID)
	err := s.db(ctx).QueryRow(ctx, `
		WITH g AS (SELECT id FROM grants WHERE id = $1 UNION ALL SELECT request_id FROM client_tokens WHERE request_id = $1),
		u AS (UPDATE oauth_tokens SET active = false WHERE request_id IN (SELECT id FROM g) AND active),
		c AS (UPDATE client_tokens SET active = false WHERE request_id = $1 AND active),
		n AS (SELECT pg_notify('`+changeChannel+`', $2))
		SELECT EXISTS (SELECT 1 FROM g) FROM n`, requestID, nt.payload).Scan(&found)
	if err := nt.done(ctx, err, ""); err != nil {
		return fmt.Errorf("postgres: revoke grant: %w", err)
	}
	if !found {
		return fmt.Errorf("postgres: revoke grant: %w", store.ErrNotFound)
	}
	return nil
}

// RevokeGrantsBySession deactivates every token of the session's grants and
// returns how many grants the session had.
func (s *Store) RevokeGrantsBySession(ctx context.Context, loginSessionID string) (int, error) {
	var n int
	nt := s.announce(store.ChangeSessionTokens, loginSessionID)
	err := s.db(ctx).QueryRow(ctx, `
		WITH g AS (SELECT id FROM grants WHERE login_session_id = $1),
		u AS (UPDATE oauth_tokens SET active = false WHERE request_id IN (SELECT id FROM g) AND active),
		n AS (SELECT pg_notify('`+changeChannel+`', $2))
		SELECT count(*) FROM g, n`, loginSessionID, nt.payload).Scan(&n)
	if err := nt.done(ctx, err, ""); err != nil {
		return 0, fmt.Errorf("postgres: revoke grants of session: %w", err)
	}
	return n, nil
}

// MoveSessionGrants walks grants_login_session_id_idx.
func (s *Store) MoveSessionGrants(ctx context.Context, from, to string) (int, error) {
	if from == "" || from == to {
		return 0, nil
	}
	tag, err := s.db(ctx).Exec(ctx, `UPDATE grants SET login_session_id = $2 WHERE login_session_id = $1`, from, to)
	if err != nil {
		return 0, fmt.Errorf("postgres: move grants of session: %w", classify(err, store.ErrNotFound))
	}
	return int(tag.RowsAffected()), nil
}

// RevokeGrantsByUser walks the grants through grants_user_id_idx and their
// tokens through oauth_tokens_request_id_kind_idx.
func (s *Store) RevokeGrantsByUser(ctx context.Context, userID, clientID string) (int, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return 0, nil
	}
	var n int
	nt := s.announce(store.ChangeUserTokens, uid)
	err := s.db(ctx).QueryRow(ctx, `
		WITH g AS (SELECT id FROM grants WHERE user_id = $1 AND ($2 = '' OR client_id = $2)),
		u AS (UPDATE oauth_tokens SET active = false WHERE request_id IN (SELECT id FROM g) AND active
			RETURNING request_id),
		n AS (SELECT pg_notify('`+changeChannel+`', $3))
		SELECT (SELECT count(DISTINCT request_id) FROM u) FROM n`, uid, clientID, nt.payload).Scan(&n)
	if err := nt.done(ctx, err, ""); err != nil {
		return 0, fmt.Errorf("postgres: revoke grants of user: %w", err)
	}
	return n, nil
}

// DeleteExpiredTokens removes up to limit expired tokens, then the grants
// among theirs that have no token left, so both deletes stay bounded by
// limit. Grants emptied by DeleteToken are not swept here.
func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	// Client tokens first (clienttokens.go): their grants go with them.
	n, err := s.deleteExpired(ctx, expiringClientTokens, "client tokens", now, limit)
	if err != nil || n == limit {
		return n, err
	}
	limit -= n
	err = s.inTx(ctx, func(ctx context.Context) error {
		rows, err := s.db(ctx).Query(ctx, expiredBatch(expiringTokens, "request_id"), now, limit)
		if err != nil {
			return err
		}
		requestIDs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		n += len(requestIDs)
		if len(requestIDs) == 0 {
			return nil
		}
		// A separate statement: in the same one, the NOT EXISTS would still
		// see the tokens just deleted.
		_, err = s.db(ctx).Exec(ctx, `DELETE FROM grants g WHERE g.id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.request_id = g.id)`, requestIDs)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired tokens: %w", err)
	}
	return n, nil
}
