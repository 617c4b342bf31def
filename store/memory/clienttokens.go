package memory

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

// CreateClientToken is CreateToken, in a transaction that also marks the
// grant as the token's own: PostgreSQL keeps the two as one row, so the
// grant goes when the token goes (dropClientGrant).
func (s *Store) CreateClientToken(ctx context.Context, t store.Token) error {
	if p := store.ClientTokenProblem(t); p != "" {
		return fmt.Errorf("memory: create client token: %s", p)
	}
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		if err := s.CreateToken(ctx, t); err != nil {
			return err
		}
		return s.do(ctx, "create client token", func(o op) error {
			put(o, s.clientGrants, t.RequestID, true)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("memory: create client token: %w", err)
	}
	return nil
}

// dropClientGrant removes the grant requestID if it is a client token's
// whose token is gone. Call it after deleting access tokens of the grant.
func (s *Store) dropClientGrant(o op, requestID string) {
	if !s.clientGrants[requestID] {
		return
	}
	for _, t := range s.tokens {
		if t.RequestID == requestID {
			return
		}
	}
	del(o, s.grants, requestID)
	del(o, s.clientGrants, requestID)
}
