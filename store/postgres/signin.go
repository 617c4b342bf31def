package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.SessionReads = (*Store)(nil)

// signedInSession is GetLoginSession's statement: $1 the id, $2 now.
const signedInSession = `SELECT ` + loginSessionColumns + ` FROM login_sessions
	WHERE id = $1 AND expires_at > $2`

// signedInUser is GetUser's statement for the session's user.
const signedInUser = userWithRoles + ` WHERE u.id = (SELECT user_id FROM login_sessions
	WHERE id = $1 AND expires_at > $2)`

// signedInConsent is GetConsent's statement for the session's user; $3
// the client.
const signedInConsent = `SELECT ` + consentColumns + ` FROM consents
	WHERE user_id = (SELECT user_id FROM login_sessions WHERE id = $1 AND expires_at > $2)
		AND client_id = $3 AND (expires_at IS NULL OR expires_at > $2)`

// GetSignedIn sends the session's, its user's and (with a client) the
// consent's statements as one batch: one round trip. Each statement finds
// the user through the session itself, so nothing depends on a value read
// by the one before; each has a snapshot of its own (READ COMMITTED), so a
// session deleted between them leaves no user or consent, and a user or
// consent is kept only if it is the session's user's.
func (s *Store) GetSignedIn(ctx context.Context, id, clientID string, now time.Time) (store.SignedIn, error) {
	var out store.SignedIn
	var user *store.User
	var consent *store.Consent
	b := &pgx.Batch{}
	b.Queue(signedInSession, id, now).QueryRow(func(row pgx.Row) error {
		ls, err := scanLoginSession(row)
		out.Session = ls
		return err
	})
	b.Queue(signedInUser, id, now).QueryRow(func(row pgx.Row) error {
		u, err := scanUser(row, true)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err == nil {
			user = &u
		}
		return err
	})
	if clientID != "" {
		b.Queue(signedInConsent, id, now, clientID).QueryRow(func(row pgx.Row) error {
			c, err := scanConsent(row)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err == nil {
				consent = &c
			}
			return err
		})
	}
	if err := s.sendBatch(ctx, b); err != nil {
		return store.SignedIn{}, fmt.Errorf("postgres: get signed in: %w", classify(err, nil))
	}
	if user != nil && user.ID == out.Session.UserID {
		out.User = user
	}
	if consent != nil && consent.UserID == out.Session.UserID {
		out.Consent = consent
	}
	return out, nil
}
