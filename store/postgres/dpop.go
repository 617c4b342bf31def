package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// UseDPoPProof records the proof jtiHash until expiresAt in one statement,
// as MarkJWTIDUsed does: an expired record is taken over, an unexpired one
// makes the upsert return no row (ErrConflict). Concurrent uses of one
// proof, from any instance, serialize on the primary key.
func (s *Store) UseDPoPProof(ctx context.Context, jtiHash []byte, expiresAt, now time.Time) error {
	if len(jtiHash) != 32 {
		return fmt.Errorf("postgres: use DPoP proof: digest of %d bytes, want 32", len(jtiHash))
	}
	var used bool
	err := s.db(ctx).QueryRow(ctx, `INSERT INTO dpop_proofs (jti_hash, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE dpop_proofs.expires_at <= $3
		RETURNING true`, jtiHash, expiresAt, now).Scan(&used)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: use DPoP proof: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("postgres: use DPoP proof: %w", err)
	}
	return nil
}

// DeleteExpiredDPoPProofs removes up to limit expired records.
func (s *Store) DeleteExpiredDPoPProofs(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, expiringDPoPProofs, "DPoP proofs", now, limit)
}
