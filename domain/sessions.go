package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/store"
)

// ListSessions returns the user's live browser sessions, newest first.
func (s *Service) ListSessions(ctx context.Context, userID string) ([]store.LoginSession, error) {
	if err := notFoundID("user", userID); err != nil {
		return nil, err
	}
	now := s.now()
	all, err := s.store.ListLoginSessions(ctx, userID, now)
	if err != nil {
		return nil, fmt.Errorf("domain: list sessions: %w", err)
	}
	return s.liveSessions(all, now), nil
}

// liveSessions keeps, in order, the sessions that still count at now
// (sessionLive); never nil.
func (s *Service) liveSessions(all []store.LoginSession, now time.Time) []store.LoginSession {
	out := []store.LoginSession{}
	for _, ls := range all {
		if s.sessionLive(ls, now) {
			out = append(out, ls)
		}
	}
	return out
}

// GetSession returns store.ErrNotFound if absent, expired or idle for too
// long (SessionLive).
func (s *Service) GetSession(ctx context.Context, id string) (store.LoginSession, error) {
	if err := notFoundKey("session", id); err != nil {
		return store.LoginSession{}, err
	}
	now := s.now()
	ls, err := s.store.GetLoginSession(ctx, id, now)
	if err != nil {
		return store.LoginSession{}, fmt.Errorf("domain: get session: %w", err)
	}
	if !s.sessionLive(ls, now) {
		return store.LoginSession{}, fmt.Errorf("domain: session is idle or too old: %w", store.ErrNotFound)
	}
	return ls, nil
}

// SessionLive is the one rule of whether a login session still counts at
// now: before its stored expiry, no older than lifetime (its AuthTime, the
// sign-in, plus lifetime: the absolute lifetime as configured now, which a
// shortened lifetimes.login_session applies to sessions started before),
// and used within idle (LastSeenAt plus idle). A zero idle or lifetime sets
// no such bound. A session that does not count is not ended: its grants'
// tokens live on as they would after its expiry; the browser signs in
// again.
func SessionLive(ls store.LoginSession, now time.Time, idle, lifetime time.Duration) bool {
	if !now.Before(ls.ExpiresAt) {
		return false
	}
	if lifetime > 0 && !now.Before(ls.AuthTime.Add(lifetime)) {
		return false
	}
	if idle > 0 && now.Sub(ls.LastSeenAt) > idle {
		return false
	}
	return true
}

func (s *Service) sessionLive(ls store.LoginSession, now time.Time) bool {
	return SessionLive(ls, now, s.opts.SessionIdleTimeout, s.opts.SessionLifetime)
}

// touchInterval is how stale LastSeenAt may get: touchEvery, or a quarter
// of the idle timeout when that is shorter, so that a session in use is
// never taken for idle (it may be judged idle up to a quarter early).
func (s *Service) touchInterval() time.Duration {
	if idle := s.opts.SessionIdleTimeout; idle > 0 && idle/4 < touchEvery {
		return idle / 4
	}
	return touchEvery
}

// SessionLimitOf is how many live login sessions u may have: its own
// limit, else the server's default; 0 is no limit.
func (s *Service) SessionLimitOf(u store.User) int {
	if u.SessionLimit != nil {
		return *u.SessionLimit
	}
	return s.opts.SessionLimit
}

// evictOverLimit ends, oldest sign-in first, as many of the user's live
// sessions other than keep (the one just made) as leave room for keep under
// its limit, with their grants' tokens ("session.evicted", target the
// session, recording its user and the limit). Runs in the caller's
// transaction, after lockForSessionLimit.
func (s *Service) evictOverLimit(ctx context.Context, u store.User, ip string, now time.Time, keep string) error {
	limit := s.SessionLimitOf(u)
	if limit <= 0 {
		return nil
	}
	all, err := s.store.ListLoginSessions(ctx, u.ID, now)
	if err != nil {
		return err
	}
	live := slices.DeleteFunc(s.liveSessions(all, now), func(ls store.LoginSession) bool { return ls.ID == keep }) // newest first, as listed
	for i := len(live) - 1; i >= limit-1; i-- {
		if err := s.endSession(ctx, live[i].ID); err != nil {
			return err
		}
		c := changes{"user_id": {Before: u.ID}, "session_limit": {After: limit}}
		if err := s.audit(ctx, Actor{Type: store.ActorSystem, IP: ip}, "session.evicted", TargetSession, live[i].ID, c); err != nil {
			return err
		}
	}
	return nil
}

// lockForSessionLimit serialises the sign-ins of a user with a session
// limit, so that two at once cannot both find room.
func (s *Service) lockForSessionLimit(ctx context.Context, u store.User) error {
	if s.SessionLimitOf(u) <= 0 {
		return nil
	}
	_, err := s.store.GetUserForUpdate(ctx, u.ID)
	return err
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
	// AMR are the methods the sign-in passed (default: the password);
	// the session's acr follows from them (ACRValue).
	AMR []string
}

// StartSession replaces the browser's previous session (if any) by a new one
// for in.User, in one transaction, ending the user's oldest sessions first
// when it has as many as its limit allows (SessionLimitOf, evictOverLimit). A fresh id at every sign-in means an id
// planted in the browser beforehand (session fixation) is never the
// signed-in one. If the previous session was someone else's, it ends as
// that user's logout would, grants and all; a user who merely signs in
// again keeps the tokens its clients already hold, whose grants move to the
// new session (so that its logout ends them).
func (s *Service) StartSession(ctx context.Context, in NewSession) (store.LoginSession, error) {
	if !UserCanAct(in.User, s.now(), ActKeepSession) {
		return store.LoginSession{}, fmt.Errorf("domain: start session for %s: %w", in.User.ID, ErrUnauthenticated)
	}
	now := s.now()
	ls := store.LoginSession{
		ID:         in.ID,
		UserID:     in.User.ID,
		AuthTime:   now,
		ExpiresAt:  now.Add(breakGlassLifetime(in.User, in.Lifetime)),
		LastSeenAt: now,
		UserAgent:  truncateUTF8(in.UserAgent, maxUserAgent),
		IPAddress:  in.IP,
		AMR:        slices.Clone(in.AMR),
	}
	if len(ls.AMR) == 0 {
		ls.AMR = []string{AMRPassword}
	}
	ls.ACR = ACRValue(ls.AMR)
	err := s.inTx(ctx, "start session", func(ctx context.Context) error {
		// The user row is locked first, before the new session's foreign
		// key takes its share lock: two sign-ins of one user would
		// otherwise deadlock upgrading to the lock the limit needs.
		if err := s.lockForSessionLimit(ctx, in.User); err != nil {
			return err
		}
		replaced := ""
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
				replaced = in.Previous
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		if err := s.store.CreateLoginSession(ctx, ls); err != nil {
			return err
		}
		if replaced != "" {
			// The same person signing in again in the same browser (a step
			// up, prompt=login) gets a fresh session id, and the grants of
			// the session it replaces go with it: logging out of the new one
			// must still end the tokens issued under the old.
			if _, err := s.store.MoveSessionGrants(ctx, replaced, ls.ID); err != nil {
				return err
			}
			if err := s.store.DeleteLoginSession(ctx, replaced); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := s.evictOverLimit(ctx, in.User, in.IP, now, ls.ID); err != nil {
			return err
		}
		return s.noteBreakGlass(ctx, in.User, in.IP, ls)
	})
	if err != nil {
		return store.LoginSession{}, err
	}
	return ls, nil
}

// CurrentSession returns the live session with id and its user; an error
// wrapping store.ErrNotFound if there is none, it has expired, is idle or
// too old (SessionLive), or its user may no longer keep a session
// (UserCanAct). A pending user's session is
// returned: callers that grant anything must check the user's status.
func (s *Service) CurrentSession(ctx context.Context, id string) (store.LoginSession, store.User, error) {
	got, err := s.CurrentSessionFor(ctx, id, "")
	if err != nil {
		return store.LoginSession{}, store.User{}, err
	}
	return got.Session, got.User, nil
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
	// Every session's end passes here: the one place its clients are told
	// (back-channel logout), before the row, which the grants name, goes.
	if err := s.enqueueLogouts(ctx, id); err != nil {
		return err
	}
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

// MaxSessionLimit bounds a user's session_limit: more is no limit in
// practice, and 0 says that plainly.
const MaxSessionLimit = 1000
