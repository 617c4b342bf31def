package memory

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.SessionReads = (*Store)(nil)

// GetSignedIn reads the session, its user and the consent under one hold
// of the store lock, as PostgreSQL reads them in one batch, with
// GetLoginSession's and GetConsent's rules of expiry.
func (s *Store) GetSignedIn(ctx context.Context, id, clientID string, now time.Time) (store.SignedIn, error) {
	var out store.SignedIn
	err := s.do(ctx, "get signed in", func(op) error {
		ls, ok := s.sessions[id]
		if !ok || !now.Before(ls.ExpiresAt) {
			return store.ErrNotFound
		}
		out.Session = copySession(ls)
		if u, ok := s.users[ls.UserID]; ok {
			c := copyUser(u)
			out.User = &c
		}
		if clientID == "" {
			return nil
		}
		if c, ok := s.consents[consentKey{ls.UserID, clientID}]; ok && (c.ExpiresAt == nil || now.Before(*c.ExpiresAt)) {
			c = copyConsent(c)
			out.Consent = &c
		}
		return nil
	})
	return out, err
}
