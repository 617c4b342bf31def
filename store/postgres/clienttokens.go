package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

// Client tokens (store.ClientTokens): a client_credentials access token and
// its grant's header in one client_tokens row (migration 00030). Every
// Tokens method that reaches access tokens reads or changes this table too;
// the statements below are the halves they add.

// insertClientToken writes one client token: $1..$9 are clientTokenArgs.
const insertClientToken = `INSERT INTO client_tokens (signature, request_id, client_id, subject, granted_scopes,
		requested_at, expires_at, active, request)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// insertClientTokenWithProof is insertClientToken behind UseDPoPProof's
// upsert ($10 digest, $11 expiry, $12 now), in one statement: the token is
// written only if the proof was recorded. Concurrent uses of one proof
// serialize on its primary key; the loser writes nothing.
const insertClientTokenWithProof = `WITH p AS (
		INSERT INTO dpop_proofs (jti_hash, expires_at) VALUES ($10, $11)
		ON CONFLICT (jti_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE dpop_proofs.expires_at <= $12
		RETURNING true
	)
	INSERT INTO client_tokens (signature, request_id, client_id, subject, granted_scopes,
		requested_at, expires_at, active, request)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM p`

// clientTokenRow is a client token checked and turned into its
// statement's text and arguments.
type clientTokenRow struct {
	sql  string
	args []any
	// proof: the row records a DPoP proof's use, which an asynchronous
	// commit could lose in a crash and so let the proof be replayed: such
	// a row is always committed durably.
	proof bool
}

func newClientTokenRow(t store.Token) (clientTokenRow, error) {
	if p := store.ClientTokenProblem(t); p != "" {
		return clientTokenRow{}, errors.New(p)
	}
	args := []any{t.Signature, t.RequestID, t.ClientID, t.Subject, list(t.GrantedScopes), t.RequestedAt,
		t.ExpiresAt, t.Active, blobArg(t.Request)}
	p := t.DPoPProof
	if p == nil {
		return clientTokenRow{sql: insertClientToken, args: args}, nil
	}
	if len(p.JTIHash) != 32 {
		return clientTokenRow{}, fmt.Errorf("DPoP proof digest of %d bytes, want 32", len(p.JTIHash))
	}
	return clientTokenRow{sql: insertClientTokenWithProof, args: append(args, p.JTIHash, p.ExpiresAt, p.Now), proof: true}, nil
}

// result is what the insert's outcome means for the caller: rows is the
// rows it wrote (0: the proof was used before).
func (r clientTokenRow) result(rows int64, err error) error {
	if err != nil {
		// A missing client fails the foreign key.
		return classify(err, store.ErrNotFound)
	}
	if rows == 0 {
		return store.ErrDPoPProofUsed
	}
	return nil
}

// CreateClientToken writes in the caller's transaction if ctx carries one,
// otherwise through the group committer (groupcommit.go) when the store has
// one, otherwise on its own.
func (s *Store) CreateClientToken(ctx context.Context, t store.Token) error {
	row, err := newClientTokenRow(t)
	if err != nil {
		return fmt.Errorf("postgres: create client token: %s", err)
	}
	_, inTx := s.tx(ctx)
	switch {
	case inTx:
		tag, err := s.db(ctx).Exec(ctx, row.sql, row.args...)
		err = row.result(tag.RowsAffected(), err)
		if err != nil {
			return fmt.Errorf("postgres: create client token: %w", err)
		}
		return nil
	case s.commits != nil:
		err = s.commits.insert(ctx, row)
	default:
		err = s.insertAlone(ctx, row)
	}
	if err != nil {
		return fmt.Errorf("postgres: create client token: %w", err)
	}
	return nil
}

// getClientTokenSQL is GetToken's second half for access tokens, with the
// columns of its first ($2 the signature): a client token has no user, no
// session and no rotation.
const getClientTokenSQL = `SELECT 'access_token', c.signature, c.request_id, c.client_id, c.subject, '', '',
			c.granted_scopes, c.requested_at, c.expires_at, c.active, c.request,
			'', NULL::timestamptz, NULL::timestamptz
		FROM client_tokens c WHERE c.signature = $2`

// getGrantSQL reads a grant or, failing that, the header of a client token
// ($1 the id).
const getGrantSQL = `SELECT id, client_id, subject, coalesce(user_id::text, ''),
			coalesce(login_session_id, ''), granted_scopes, requested_at
		FROM grants WHERE id = $1
		UNION ALL
		SELECT request_id, client_id, subject, '', '', granted_scopes, requested_at
		FROM client_tokens WHERE request_id = $1
		LIMIT 1`
