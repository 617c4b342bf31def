package provider

import (
	"context"
	"fmt"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/store"
)

// isClientToken reports whether t, the access token of r, is a client
// token (store.ClientTokens): a client_credentials grant's, which is its
// grant's only token (fosite's client_credentials handler issues no
// refresh token), with no user and no session.
func isClientToken(r fosite.Requester, t store.Token) bool {
	ar, ok := r.(fosite.AccessRequester)
	return ok && ar.GetGrantTypes().ExactOne("client_credentials") && store.ClientTokenProblem(t) == ""
}

// insertClientToken writes a client token in one row; outside a
// transaction the store may commit it together with concurrent ones.
func (s *fositeStore) insertClientToken(ctx context.Context, t store.Token) error {
	if err := s.store.CreateClientToken(ctx, t); err != nil {
		return fmt.Errorf("provider: create client token: %w", err)
	}
	return nil
}
