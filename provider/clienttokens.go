package provider

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

// clientCredentialsKey marks, in the context of a token request, a
// client_credentials grant (exchange): fosite hands the storage a
// sanitized copy of the request that no longer says which grant it is.
type clientCredentialsKey struct{}

func withClientCredentials(ctx context.Context) context.Context {
	return context.WithValue(ctx, clientCredentialsKey{}, true)
}

// isClientToken reports whether t, an access token written in ctx, is a
// client token (store.ClientTokens): a client_credentials grant's, which is
// its grant's only token (fosite's client_credentials handler issues no
// refresh token), with no user and no session.
func isClientToken(ctx context.Context, t store.Token) bool {
	cc, _ := ctx.Value(clientCredentialsKey{}).(bool)
	return cc && store.ClientTokenProblem(t) == ""
}

// insertClientToken writes a client token in one row; outside a
// transaction the store may commit it together with concurrent ones.
func (s *fositeStore) insertClientToken(ctx context.Context, t store.Token) error {
	if err := s.store.CreateClientToken(ctx, t); err != nil {
		return fmt.Errorf("provider: create client token: %w", err)
	}
	return nil
}
