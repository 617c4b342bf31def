package domain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// SignedIn is a browser's live login session and its user, who may keep a
// session (CurrentSessionFor).
type SignedIn struct {
	Session store.LoginSession
	User    store.User
	// Consent is the user's remembered consent to the client
	// CurrentSessionFor was asked about, read with the session, for
	// ConsentQuestion.Read; nil when it was asked about none.
	Consent *ConsentRead
}

// ConsentRead is a user's remembered consent to one client as read with
// the login session (CurrentSessionFor), so that ConsentNeeded need not
// read it again. Only the domain makes one, and ConsentNeeded uses it only
// for the question of the same user and client, judging its expiry at its
// own now: it answers exactly what ConsentNeeded's own read would.
type ConsentRead struct {
	userID, clientID string
	// consent is nil if the user had none unexpired when it was read.
	consent *store.Consent
}

// CurrentSessionFor is CurrentSession reading too, in the same round trip
// (store.SessionReads), the user's remembered consent to clientID for
// ConsentNeeded (ConsentQuestion.Read); clientID "" reads none. The rules
// are CurrentSession's: an error wrapping store.ErrNotFound if the session
// is absent, expired, idle or too old (SessionLive), or its user is gone or
// may no longer keep a session (UserCanAct); a pending user's session is
// returned. A session last seen longer ago than touchInterval is touched.
func (s *Service) CurrentSessionFor(ctx context.Context, id, clientID string) (SignedIn, error) {
	if err := notFoundKey("session", id); err != nil {
		return SignedIn{}, err
	}
	now := s.now()
	got, err := s.store.GetSignedIn(ctx, id, clientID, now)
	if err != nil {
		return SignedIn{}, fmt.Errorf("domain: get login session: %w", err)
	}
	ls := got.Session
	if !s.sessionLive(ls, now) {
		return SignedIn{}, fmt.Errorf("domain: login session idle or too old: %w", store.ErrNotFound)
	}
	if got.User == nil {
		return SignedIn{}, fmt.Errorf("domain: get session user %s: %w", ls.UserID, store.ErrNotFound)
	}
	u := *got.User
	if !UserCanAct(u, now, ActKeepSession) {
		return SignedIn{}, fmt.Errorf("domain: session user %s may not act: %w", u.ID, store.ErrNotFound)
	}
	s.touchSession(ctx, ls, now)
	out := SignedIn{Session: ls, User: u}
	if clientID != "" {
		out.Consent = &ConsentRead{userID: u.ID, clientID: clientID, consent: got.Consent}
	}
	return out, nil
}

// touchSession records that ls is in use, at most once per touchInterval.
func (s *Service) touchSession(ctx context.Context, ls store.LoginSession, now time.Time) {
	if now.Sub(ls.LastSeenAt) < s.touchInterval() {
		return
	}
	// Best effort: LastSeenAt is informational (session lists), not a
	// reason to fail the request.
	if err := s.store.TouchLoginSession(ctx, ls.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.opts.Logger.WarnContext(ctx, "touch login session", "error", err.Error())
	}
}

// rememberedConsent is the user's unexpired remembered consent to the
// question's client at now (nil if none): q.Read when it was read for this
// very user and client, else read from the store.
func (s *Service) rememberedConsent(ctx context.Context, q ConsentQuestion, now time.Time) (*store.Consent, error) {
	if r := q.Read; r != nil && r.userID == q.UserID && r.clientID == q.ClientID {
		c := r.consent
		if c == nil || (c.ExpiresAt != nil && !now.Before(*c.ExpiresAt)) {
			return nil, nil
		}
		return c, nil
	}
	got, err := s.store.GetConsent(ctx, q.UserID, q.ClientID, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("domain: get consent: %w", err)
	}
	return &got, nil
}
