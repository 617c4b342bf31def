package postgres

import (
	"context"
	"fmt"
	"time"
)

// expiring is a table the janitor sweeps; each has an indexed expires_at.
// It is a type of its own so that only these constants are spliced into
// SQL text.
type expiring string

const (
	expiringTokens        expiring = "oauth_tokens"
	expiringPARRequests   expiring = "par_requests"
	expiringLoginSessions expiring = "login_sessions"
	expiringJWTIDs        expiring = "jwt_ids"

	expiringWebAuthnCeremonies expiring = "webauthn_ceremonies"

	// expiringDeviceCodes: the device authorization grant.
	expiringDeviceCodes expiring = "device_codes"
	expiringDPoPProofs  expiring = "dpop_proofs"

	// expiringClientTokens: client_credentials tokens (clienttokens.go).
	expiringClientTokens expiring = "client_tokens"
)

// expiredBatch is the janitor's bounded delete: the rows of table whose
// expiry is at or before $1, at most $2 of them, returning the columns of
// returning if it is not empty. PostgreSQL has no DELETE ... LIMIT, so the
// bound is a ctid subquery; it keeps each sweep's locks and WAL small
// however far behind the janitor is.
func expiredBatch(table expiring, returning string) string {
	sql := `DELETE FROM ` + string(table) + ` WHERE ctid IN (
		SELECT ctid FROM ` + string(table) + ` WHERE expires_at <= $1 LIMIT $2)`
	if returning != "" {
		sql += ` RETURNING ` + returning
	}
	return sql
}

// deleteExpired runs expiredBatch on table and reports how many rows went;
// what names the rows in the error. A limit of 0 or less deletes nothing.
func (s *Store) deleteExpired(ctx context.Context, table expiring, what string, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.db(ctx).Exec(ctx, expiredBatch(table, ""), now, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete expired %s: %w", what, err)
	}
	return int(tag.RowsAffected()), nil
}
