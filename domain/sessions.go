package domain

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

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
	if err := notFoundKey("session", id); err != nil {
		return store.LoginSession{}, err
	}
	ls, err := s.store.GetLoginSession(ctx, id, s.now())
	if err != nil {
		return store.LoginSession{}, fmt.Errorf("domain: get session: %w", err)
	}
	return ls, nil
}

// RevokeSession ends a session and revokes the tokens of the grants made in
// it ("session.revoke", target the session, recording its user);
// store.ErrNotFound if absent or expired.
func (s *Service) RevokeSession(ctx context.Context, p Principal, sessionID string) error {
	if err := notFoundKey("session", sessionID); err != nil {
		return err
	}
	return s.inTx(ctx, "revoke session", func(ctx context.Context) error {
		ls, err := s.store.GetLoginSession(ctx, sessionID, s.now())
		if err != nil {
			return err
		}
		owner, err := s.store.GetUser(ctx, ls.UserID)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, owner); err != nil {
			return err
		}
		if err := s.endSession(ctx, sessionID); err != nil {
			return err
		}
		return s.audit(ctx, p.Actor, "session.revoke", TargetSession, sessionID,
			changes{"user_id": {Before: ls.UserID}})
	})
}

// touchEvery limits LastSeenAt writes to one per session per interval, so
// that reading the session on every request does not write on every request.
const touchEvery = 5 * time.Minute

// maxUserAgent bounds what a client can make us store.
const maxUserAgent = 256

// NewSession is a browser session to start.
type NewSession struct {
	// ID is the store id: a digest of the secret the cookie carries, so
	// that the table never holds a usable cookie.
	ID   string
	User store.User
	// Previous is the id of the session the browser held before, if any.
	Previous  string
	UserAgent string
	IP        string
	Lifetime  time.Duration
	// AMR and ACR say how the user authenticated (RFC 8176 methods and the
	// context class); ID tokens of grants made in the session carry them.
	AMR []string
	ACR string
}

// StartSession replaces the browser's previous session (if any) by a new one
// for in.User, in one transaction. A fresh id at every sign-in means an id
// planted in the browser beforehand (session fixation) is never the
// signed-in one. If the previous session was someone else's, it ends as
// that user's logout would, grants and all; a user who merely signs in
// again keeps the tokens its clients already hold.
func (s *Service) StartSession(ctx context.Context, in NewSession) (store.LoginSession, error) {
	if !UserCanAct(in.User, s.now(), ActKeepSession) {
		return store.LoginSession{}, fmt.Errorf("domain: start session for %s: %w", in.User.ID, ErrUnauthenticated)
	}
	now := s.now()
	ls := store.LoginSession{
		ID:         in.ID,
		UserID:     in.User.ID,
		AuthTime:   now,
		ExpiresAt:  now.Add(in.Lifetime),
		LastSeenAt: now,
		UserAgent:  truncateUTF8(in.UserAgent, maxUserAgent),
		IPAddress:  in.IP,
		AMR:        append([]string{}, in.AMR...),
		ACR:        in.ACR,
	}
	err := s.inTx(ctx, "start session", func(ctx context.Context) error {
		if in.Previous != "" {
			old, err := s.store.GetLoginSession(ctx, in.Previous, now)
			switch {
			case err == nil && old.UserID != in.User.ID:
				if err := s.endSession(ctx, in.Previous); err != nil {
					return err
				}
				if err := s.auditLogout(ctx, in.IP, old.UserID); err != nil {
					return err
				}
			case err == nil:
				if err := s.store.DeleteLoginSession(ctx, in.Previous); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		return s.store.CreateLoginSession(ctx, ls)
	})
	if err != nil {
		return store.LoginSession{}, err
	}
	return ls, nil
}

// CurrentSession returns the live session with id and its user; an error
// wrapping store.ErrNotFound if there is none, it has expired, or its user
// may no longer keep a session (UserCanAct). A pending user's session is
// returned: callers that grant anything must check the user's status.
func (s *Service) CurrentSession(ctx context.Context, id string) (store.LoginSession, store.User, error) {
	if err := notFoundKey("session", id); err != nil {
		return store.LoginSession{}, store.User{}, err
	}
	now := s.now()
	ls, err := s.store.GetLoginSession(ctx, id, now)
	if err != nil {
		return store.LoginSession{}, store.User{}, fmt.Errorf("domain: get login session: %w", err)
	}
	u, err := s.store.GetUser(ctx, ls.UserID)
	if err != nil {
		return store.LoginSession{}, store.User{}, fmt.Errorf("domain: get session user: %w", err)
	}
	if !UserCanAct(u, now, ActKeepSession) {
		return store.LoginSession{}, store.User{}, fmt.Errorf("domain: session user %s may not act: %w", u.ID, store.ErrNotFound)
	}
	if now.Sub(ls.LastSeenAt) >= touchEvery {
		// Best effort: LastSeenAt is informational (session lists), not a
		// reason to fail the request.
		if err := s.store.TouchLoginSession(ctx, id, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.opts.Logger.WarnContext(ctx, "touch login session", "error", err.Error())
		}
	}
	return ls, u, nil
}

// EndSession signs a browser out: it revokes the tokens of the grants made
// in the session, deletes it and audits "logout" for its user, from ip, in
// one transaction. It ends a session past its expiry too (its grants are
// still the ones the user wants ended); no error if there is none.
func (s *Service) EndSession(ctx context.Context, ip, id string) error {
	return s.inTx(ctx, "end session", func(ctx context.Context) error {
		// Zero time: find the row even if it has expired, to know whose it was.
		ls, err := s.store.GetLoginSession(ctx, id, time.Time{})
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Nobody left to sign out, but a grant may still name the id.
			_, err := s.store.RevokeGrantsBySession(ctx, id)
			return err
		case err != nil:
			return err
		}
		if err := s.endSession(ctx, id); err != nil {
			return err
		}
		return s.auditLogout(ctx, ip, ls.UserID)
	})
}

// auditLogout appends the "logout" entry of userID: the user signed itself
// out (or was signed out of the browser by the next person's sign-in).
func (s *Service) auditLogout(ctx context.Context, ip, userID string) error {
	return s.audit(ctx, Actor{Type: store.ActorUser, ID: userID, IP: ip}, "logout", TargetUser, userID, nil)
}

// endSessions ends every login session of the user and revokes the tokens
// of the grants made in them, so that the user's refresh and access tokens
// stop working at once. It lists with the zero time, so that sessions past
// their expiry but not yet cleaned up are ended too: their grants' refresh
// tokens would otherwise live on.
func (s *Service) endSessions(ctx context.Context, userID string) error {
	sessions, err := s.store.ListLoginSessions(ctx, userID, time.Time{})
	if err != nil {
		return err
	}
	for _, ls := range sessions {
		if err := s.endSession(ctx, ls.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) endSession(ctx context.Context, id string) error {
	if _, err := s.store.RevokeGrantsBySession(ctx, id); err != nil {
		return err
	}
	if err := s.store.DeleteLoginSession(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
