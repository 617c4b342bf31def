package domain

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/store"
)

// ListSessions returns the user's live browser sessions, newest first.
func (s *Service) ListSessions(ctx context.Context, userID string) ([]store.LoginSession, error) {
	if err := notFoundID("user", userID); err != nil {
		return nil, err
	}
	out, err := s.store.ListLoginSessions(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("domain: list sessions: %w", err)
	}
	if out == nil {
		out = []store.LoginSession{}
	}
	return out, nil
}

// GetSession returns store.ErrNotFound if absent or expired.
func (s *Service) GetSession(ctx context.Context, id string) (store.LoginSession, error) {
	ls, err := s.store.GetLoginSession(ctx, id, s.now())
	if err != nil {
		return store.LoginSession{}, fmt.Errorf("domain: get session: %w", err)
	}
	return ls, nil
}

// RevokeSession ends a session and revokes the tokens of the grants made in
// it ("session.revoke", target the session, recording its user);
// store.ErrNotFound if absent or expired.
func (s *Service) RevokeSession(ctx context.Context, a Actor, sessionID string) error {
	return s.inTx(ctx, "revoke session", func(ctx context.Context) error {
		ls, err := s.store.GetLoginSession(ctx, sessionID, s.now())
		if err != nil {
			return err
		}
		if err := s.endSession(ctx, sessionID); err != nil {
			return err
		}
		return s.audit(ctx, a, "session.revoke", TargetSession, sessionID,
			changes{"user_id": {Before: ls.UserID}})
	})
}
