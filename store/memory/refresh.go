package memory

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.RefreshTokens = (*Store)(nil)

// GetRefreshToken reads the token and its grant's user under one hold of
// the store lock, as PostgreSQL reads them in one batch.
func (s *Store) GetRefreshToken(ctx context.Context, signature string) (store.Token, *store.User, error) {
	var out store.Token
	var user *store.User
	err := s.do(ctx, "get refresh token", func(op) error {
		t, ok := s.tokens[tokenKey{store.KindRefreshToken, signature}]
		if !ok {
			return store.ErrNotFound
		}
		out = copyToken(t)
		if g, ok := s.grants[t.RequestID]; ok && g.UserID != "" {
			if u, ok := s.users[g.UserID]; ok {
				c := copyUser(u)
				user = &c
			}
		}
		return nil
	})
	return out, user, err
}

// RotateRefreshToken is the four writes of the rotation in one
// transaction (nested in the caller's, if any): the store lock makes it
// atomic, and the undo log takes it back whole on failure.
func (s *Store) RotateRefreshToken(ctx context.Context, r store.RefreshRotation) error {
	if r.Access.RequestID != r.Refresh.RequestID {
		return fmt.Errorf("memory: rotate refresh token: access token of grant %q, refresh token of %q", r.Access.RequestID, r.Refresh.RequestID)
	}
	err := store.InTx(ctx, s, func(ctx context.Context) error {
		t, err := s.GetToken(ctx, store.KindRefreshToken, r.Signature)
		if err != nil {
			return err
		}
		if t.RequestID != r.Refresh.RequestID || !t.Active {
			return store.ErrNotFound
		}
		if err := s.RotateToken(ctx, store.KindRefreshToken, r.Signature, r.At); err != nil {
			return err
		}
		if err := s.DeleteTokensByRequest(ctx, store.KindAccessToken, r.Refresh.RequestID); err != nil {
			return err
		}
		if err := s.CreateToken(ctx, r.Access); err != nil {
			return err
		}
		n := r.Refresh
		n.Predecessor = r.Signature
		return s.CreateToken(ctx, n)
	})
	if err != nil {
		return fmt.Errorf("memory: rotate refresh token: %w", err)
	}
	return nil
}
