package memory

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.AuthorizeCodes = (*Store)(nil)

// CreateTokens creates the tokens in one transaction (nested in the
// caller's, if any): the undo log takes back those created before a
// failure.
func (s *Store) CreateTokens(ctx context.Context, ts []store.Token) error {
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		for _, t := range ts {
			if t.DPoPProof != nil {
				return fmt.Errorf("%s %s: a DPoP proof is not recorded by CreateTokens", t.Kind, t.Signature)
			}
			if err := s.CreateToken(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("memory: create tokens: %w", err)
	}
	return nil
}

// GetAuthorizeCode reads the code, its records and its grant's user under
// one hold of the store lock, as PostgreSQL reads them in one batch.
func (s *Store) GetAuthorizeCode(ctx context.Context, signature string) (store.AuthorizeCode, error) {
	var out store.AuthorizeCode
	err := s.do(ctx, "get authorize code", func(op) error {
		t, ok := s.tokens[tokenKey{store.KindAuthorizeCode, signature}]
		if !ok {
			return store.ErrNotFound
		}
		out.Code = copyToken(t)
		if p, ok := s.tokens[tokenKey{store.KindPKCE, signature}]; ok {
			c := copyToken(p)
			out.PKCE = &c
		}
		if o, ok := s.tokens[tokenKey{store.KindOpenIDSession, signature}]; ok {
			c := copyToken(o)
			out.OpenID = &c
		}
		if g, ok := s.grants[t.RequestID]; ok && g.UserID != "" {
			if u, ok := s.users[g.UserID]; ok {
				c := copyUser(u)
				out.User = &c
			}
		}
		return nil
	})
	return out, err
}

// RedeemAuthorizeCode deactivates the code and creates the tokens in one
// transaction (nested in the caller's, if any). CreateToken records a
// DPoP-bound access token's proof, as PostgreSQL's does.
func (s *Store) RedeemAuthorizeCode(ctx context.Context, signature string, tokens []store.Token) error {
	err := store.InTx(ctx, s, func(ctx context.Context) error {
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
		return fmt.Errorf("memory: redeem authorize code: %w", err)
	}
	return nil
}
