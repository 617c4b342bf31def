package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// UseDPoPProof refuses a digest that is not 32 bytes, as PostgreSQL's
// check constraint does.
func (s *Store) UseDPoPProof(ctx context.Context, jtiHash []byte, expiresAt, now time.Time) error {
	return s.do(ctx, "use DPoP proof", func(o op) error {
		if len(jtiHash) != 32 {
			return fmt.Errorf("digest of %d bytes, want 32", len(jtiHash))
		}
		key := string(jtiHash)
		if exp, ok := s.dpopProofs[key]; ok && now.Before(exp) {
			return store.ErrConflict
		}
		put(o, s.dpopProofs, key, stamp(expiresAt))
		return nil
	})
}

func (s *Store) DeleteExpiredDPoPProofs(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired DPoP proofs", func(o op) error {
		n = len(deleteExpired(o, s.dpopProofs, func(exp time.Time) time.Time { return exp }, now, limit))
		return nil
	})
	return n, err
}
