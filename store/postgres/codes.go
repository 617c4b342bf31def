package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.AuthorizeCodes = (*Store)(nil)

// CreateTokens sends CreateToken's statement once per token in one batch:
// one round trip. Outside a transaction the batch is one implicit
// transaction (its statements are sent before a single Sync, and
// PostgreSQL commits them at the Sync only if none failed), so a token
// that fails takes back those written before it; inside one, the failure
// aborts the caller's transaction, as CreateToken's would.
func (s *Store) CreateTokens(ctx context.Context, ts []store.Token) error {
	if len(ts) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	written := 0
	for _, t := range ts {
		if t.DPoPProof != nil {
			return fmt.Errorf("postgres: create tokens: %s %s: a DPoP proof is not recorded by CreateTokens", t.Kind, t.Signature)
		}
		args, err := createTokenArgs(t)
		if err != nil {
			return fmt.Errorf("postgres: create tokens: %w", err)
		}
		b.Queue(createTokenSQL, args...).Exec(func(pgconn.CommandTag) error {
			written++
			return nil
		})
	}
	if err := s.sendBatch(ctx, b); err != nil {
		// The callbacks run in order and stop at the first failure.
		what := "tokens"
		if written < len(ts) {
			what = string(ts[written].Kind)
		}
		// A missing client, user or login session fails a foreign key.
		return fmt.Errorf("postgres: create tokens: %s: %w", what, classify(err, store.ErrNotFound))
	}
	return nil
}

// codeRecordSelect is GetToken's statement for the code's records: $1 the
// kind, $2 the signature.
const codeRecordSelect = `SELECT t.kind, t.signature, t.request_id, g.client_id, g.subject, coalesce(g.user_id::text, ''),
		coalesce(g.login_session_id, ''), t.granted_scopes, t.requested_at, t.expires_at, t.active, t.request,
		coalesce(t.predecessor, ''), t.rotated_at, t.rewound_at
	FROM oauth_tokens t JOIN grants g ON g.id = t.request_id
	WHERE t.kind = $1 AND t.signature = $2`

// codeUserSelect is refreshUserSelect for the code's grant.
const codeUserSelect = userWithRoles + ` WHERE u.id = (SELECT g.user_id
	FROM oauth_tokens t JOIN grants g ON g.id = t.request_id
	WHERE t.kind = 'authorize_code' AND t.signature = $1)`

// GetAuthorizeCode sends the code's statement (locking it inside a
// transaction, as GetToken does), its PKCE and OpenID Connect records'
// and its user's as one batch: one round trip. The statements after the
// first run once its lock is granted, each with a snapshot of its own
// (READ COMMITTED), so they read what the transaction the lock waited for
// committed.
func (s *Store) GetAuthorizeCode(ctx context.Context, signature string) (store.AuthorizeCode, error) {
	var out store.AuthorizeCode
	codeSQL := codeRecordSelect
	if _, inTx := s.tx(ctx); inTx {
		codeSQL += ` FOR UPDATE OF t`
	}
	b := &pgx.Batch{}
	b.Queue(codeSQL, string(store.KindAuthorizeCode), signature).QueryRow(func(row pgx.Row) error {
		return scanCodeRecord(row, &out.Code)
	})
	optional := func(kind store.TokenKind, dst **store.Token) {
		b.Queue(codeRecordSelect, string(kind), signature).QueryRow(func(row pgx.Row) error {
			var t store.Token
			err := scanCodeRecord(row, &t)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err == nil {
				*dst = &t
			}
			return err
		})
	}
	optional(store.KindPKCE, &out.PKCE)
	optional(store.KindOpenIDSession, &out.OpenID)
	b.Queue(codeUserSelect, signature).QueryRow(func(row pgx.Row) error {
		u, err := scanUser(row, true)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err == nil {
			out.User = &u
		}
		return err
	})
	if err := s.sendBatch(ctx, b); err != nil {
		return store.AuthorizeCode{}, fmt.Errorf("postgres: get authorize code: %w", classify(err, nil))
	}
	return out, nil
}

// scanCodeRecord scans codeRecordSelect's row into t, as GetToken does.
func scanCodeRecord(row pgx.Row, t *store.Token) error {
	var k string
	err := row.Scan(&k, &t.Signature, &t.RequestID,
		&t.ClientID, &t.Subject, &t.UserID, &t.LoginSessionID, &t.GrantedScopes, &t.RequestedAt, &t.ExpiresAt,
		&t.Active, &t.Request, &t.Predecessor, &t.RotatedAt, &t.RewoundAt)
	if err != nil {
		return err
	}
	t.Kind = store.TokenKind(k)
	t.GrantedScopes = list(t.GrantedScopes)
	t.RequestedAt, t.ExpiresAt = utc(t.RequestedAt), utc(t.ExpiresAt)
	t.RotatedAt, t.RewoundAt = utcPtr(t.RotatedAt), utcPtr(t.RewoundAt)
	return nil
}

// redeemCodeSQL is DeactivateToken's one-use UPDATE of the code and, only
// if it matched, the insert of the tokens, in one statement. The tokens
// come as one array per column (unnest), so that one statement serves any
// number of them; their granted scopes, an array each, come as JSON arrays
// (PostgreSQL has no arrays of arrays of different lengths), taken apart
// in order. The columns are CreateToken's, with its NULLs for "".
const redeemCodeSQL = `
	WITH c AS (
		UPDATE oauth_tokens SET active = false
		WHERE kind = 'authorize_code' AND signature = $1 AND active
		RETURNING request_id
	), i AS (
		INSERT INTO oauth_tokens (kind, signature, request_id, granted_scopes, requested_at, expires_at,
			active, request, predecessor, rotated_at, rewound_at)
		SELECT n.kind, n.signature, n.request_id,
			ARRAY(SELECT e.scope FROM jsonb_array_elements_text(n.scopes::jsonb) WITH ORDINALITY AS e(scope, i) ORDER BY e.i),
			n.requested_at, n.expires_at, n.active, n.request, nullif(n.predecessor, ''), n.rotated_at, n.rewound_at
		FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
			$8::boolean[], $9::bytea[], $10::text[], $11::timestamptz[], $12::timestamptz[])
			AS n(kind, signature, request_id, scopes, requested_at, expires_at, active, request, predecessor, rotated_at, rewound_at)
		WHERE EXISTS (SELECT FROM c)
	)
	SELECT count(*) FROM c`

// RedeemAuthorizeCode is one statement (redeemCodeSQL): the tokens are
// written if and only if this call deactivated the code. Deactivating a
// code notifies nothing (DeactivateToken notifies only for access tokens,
// which caches know), nor does inserting tokens (CreateToken). A token of
// a grant that does not exist fails the statement's foreign key:
// ErrNotFound, and the code stays active. A DPoP-bound access token
// records its proof too, which CreateToken's statement does: that case
// takes the statements one by one, in a transaction.
func (s *Store) RedeemAuthorizeCode(ctx context.Context, signature string, tokens []store.Token) error {
	for _, t := range tokens {
		if t.DPoPProof != nil {
			return s.redeemAuthorizeCodeByParts(ctx, signature, tokens)
		}
	}
	n := len(tokens)
	kinds, sigs, requestIDs, scopes := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	requestedAt, expiresAt := make([]time.Time, n), make([]time.Time, n)
	active := make([]bool, n)
	requests := make([][]byte, n)
	predecessors := make([]string, n)
	rotatedAt, rewoundAt := make([]*time.Time, n), make([]*time.Time, n)
	for i, t := range tokens {
		sc, err := json.Marshal(list(t.GrantedScopes))
		if err != nil {
			return fmt.Errorf("postgres: redeem authorize code: %w", err)
		}
		kinds[i], sigs[i], requestIDs[i], scopes[i] = string(t.Kind), t.Signature, t.RequestID, string(sc)
		requestedAt[i], expiresAt[i], active[i] = t.RequestedAt, t.ExpiresAt, t.Active
		if len(t.Request) > 0 {
			requests[i] = t.Request
		}
		predecessors[i], rotatedAt[i], rewoundAt[i] = t.Predecessor, t.RotatedAt, t.RewoundAt
	}
	var redeemed int
	err := s.db(ctx).QueryRow(ctx, redeemCodeSQL, signature,
		kinds, sigs, requestIDs, scopes, requestedAt, expiresAt, active, requests, predecessors, rotatedAt, rewoundAt).Scan(&redeemed)
	if err == nil && redeemed == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: redeem authorize code: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

// redeemAuthorizeCodeByParts is RedeemAuthorizeCode in a statement per
// row: DeactivateToken's, then CreateToken's for each token.
func (s *Store) redeemAuthorizeCodeByParts(ctx context.Context, signature string, tokens []store.Token) error {
	err := s.inTx(ctx, func(ctx context.Context) error {
		if err := s.DeactivateToken(ctx, store.KindAuthorizeCode, signature); err != nil {
			return err
		}
		for _, t := range tokens {
			if err := s.CreateToken(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: redeem authorize code: %w", err)
	}
	return nil
}
