package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/clientaddr"
	"github.com/gatehouse/gatehouse/store"
)

// Session is a signed-in browser: the login session and its user, who is
// active or pending (signed in, no access yet: User.Status tells).
type Session struct {
	// ID is the store.LoginSession id (the SHA-256 of the cookie value); it
	// is what grants record as their LoginSessionID.
	ID       string
	User     store.User
	AuthTime time.Time
}

// touchEvery limits LastSeenAt writes to one per session per interval, so
// that reading the session on every request does not write on every request.
const touchEvery = 5 * time.Minute

// maxUserAgent bounds what a client can make us store.
const maxUserAgent = 256

func (p *Pages) sessionCookieName() string {
	if p.opts.CookieSecure {
		return "__Host-gatehouse_session"
	}
	return "gatehouse_session"
}

// sessionID is the store id of a cookie value; the value itself is never
// stored, so a leaked table does not yield usable cookies.
func sessionID(cookieValue string) string {
	d := sha256.Sum256([]byte(cookieValue))
	return hex.EncodeToString(d[:])
}

// requestSessionID returns the store id named by the request's session
// cookie, or "" if there is no well-formed cookie.
func (p *Pages) requestSessionID(r *http.Request) string {
	c, err := r.Cookie(p.sessionCookieName())
	if err != nil || !validCookieValue(c.Value) {
		return ""
	}
	return sessionID(c.Value)
}

// CurrentSession returns the signed-in session of the request's cookie, or
// (nil, nil) if there is none, it expired, or its user is neither active nor
// pending (locked, disabled, expired or gone). A pending user's session is
// returned so that it can request access; callers that grant anything must
// check Session.User.Status.
func (p *Pages) CurrentSession(r *http.Request) (*Session, error) {
	id := p.requestSessionID(r)
	if id == "" {
		return nil, nil
	}
	ctx := r.Context()
	now := p.now()
	ls, err := p.store.GetLoginSession(ctx, id, now)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consent: get login session: %w", err)
	}
	u, err := p.store.GetUser(ctx, ls.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consent: get session user: %w", err)
	}
	if !sessionUsable(u, now) {
		return nil, nil
	}
	if now.Sub(ls.LastSeenAt) >= touchEvery {
		// Best effort: LastSeenAt is informational (session lists), not a
		// reason to fail the request.
		if err := p.store.TouchLoginSession(ctx, id, now); err != nil && !errors.Is(err, store.ErrNotFound) {
			p.log.Warn("consent: touch login session", "err", err)
		}
	}
	return &Session{ID: ls.ID, User: u, AuthTime: ls.AuthTime}, nil
}

// sessionUsable: only the sessions of active and pending, unexpired users
// count. A temporary lockout (LockedUntil) does not end sessions: it slows
// password guessing, and anyone can trigger it for any username, so it must
// not sign the real user out.
func sessionUsable(u store.User, now time.Time) bool {
	if u.Status != store.StatusActive && u.Status != store.StatusPending {
		return false
	}
	return u.ExpiresAt == nil || now.Before(*u.ExpiresAt)
}

// startSession replaces the request's login session (if any) by a new one for
// u and sets its cookie. A fresh id at every login means an id planted in the
// browser before login (session fixation) is never the signed-in one.
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	ctx := r.Context()
	now := p.now()
	if err := p.dropPreviousSession(ctx, r, u.ID); err != nil {
		return err
	}
	value, err := randomValue()
	if err != nil {
		return err
	}
	ls := store.LoginSession{
		ID:         sessionID(value),
		UserID:     u.ID,
		AuthTime:   now,
		ExpiresAt:  now.Add(p.opts.SessionLifetime),
		LastSeenAt: now,
		UserAgent:  truncateUTF8(r.UserAgent(), maxUserAgent),
		IPAddress:  clientaddr.IP(r),
	}
	if err := p.store.CreateLoginSession(ctx, ls); err != nil {
		return fmt.Errorf("consent: create login session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     p.sessionCookieName(),
		Value:    value,
		Path:     "/",
		MaxAge:   int(p.opts.SessionLifetime / time.Second),
		HttpOnly: true,
		Secure:   p.opts.CookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// dropPreviousSession deletes the request's old login session before a new
// one is made. If it belonged to someone else, signing in as another user
// ends it the way a logout would, so its tokens are revoked too; a user who
// merely re-authenticates keeps the tokens its clients already hold.
func (p *Pages) dropPreviousSession(ctx context.Context, r *http.Request, userID string) error {
	id := p.requestSessionID(r)
	if id == "" {
		return nil
	}
	old, err := p.store.GetLoginSession(ctx, id, p.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // expired or gone; the row is cleaned up in batches
	case err != nil:
		return fmt.Errorf("consent: get previous login session: %w", err)
	}
	return store.InTx(ctx, p.store, func(ctx context.Context) error {
		if old.UserID != userID {
			if _, err := p.store.RevokeGrantsBySession(ctx, id); err != nil {
				return fmt.Errorf("consent: revoke grants of previous session: %w", err)
			}
		}
		if err := p.store.DeleteLoginSession(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("consent: delete previous login session: %w", err)
		}
		if old.UserID != userID {
			return p.recordLogout(ctx, r, old.UserID)
		}
		return nil
	})
}

// recordLogout appends the "logout" audit entry of userID; called inside
// the transaction that ends the session, so both happen or neither.
func (p *Pages) recordLogout(ctx context.Context, r *http.Request, userID string) error {
	err := p.svc.Record(ctx, store.AuditEntry{
		ActorType:  store.ActorUser,
		ActorID:    userID,
		Action:     "logout",
		TargetType: domain.TargetUser,
		TargetID:   userID,
		IPAddress:  clientaddr.IP(r),
	})
	if err != nil {
		return fmt.Errorf("consent: audit logout: %w", err)
	}
	return nil
}

// EndSession signs the request's browser out: it revokes the tokens of grants
// made in the session, deletes the session and clears the cookie. No error if
// there is no session.
func (p *Pages) EndSession(w http.ResponseWriter, r *http.Request) error {
	id := p.requestSessionID(r)
	if _, err := r.Cookie(p.sessionCookieName()); err == nil {
		p.clearSessionCookie(w)
	}
	if id == "" {
		return nil
	}
	// Whose session it was, for the audit log; an expired or unknown row
	// has nobody left to sign out.
	var userID string
	ls, err := p.store.GetLoginSession(r.Context(), id, p.now())
	switch {
	case err == nil:
		userID = ls.UserID
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("consent: get login session: %w", err)
	}
	// Revoke even when the row has expired: the grants made in it are still
	// the ones this browser's user wants ended.
	err = store.InTx(r.Context(), p.store, func(ctx context.Context) error {
		if _, err := p.store.RevokeGrantsBySession(ctx, id); err != nil {
			return fmt.Errorf("consent: revoke grants of session: %w", err)
		}
		if err := p.store.DeleteLoginSession(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("consent: delete login session: %w", err)
		}
		if userID != "" {
			return p.recordLogout(ctx, r, userID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.log.Info("consent: signed out", "session", id[:12])
	return nil
}

func (p *Pages) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     p.sessionCookieName(),
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   p.opts.CookieSecure,
		SameSite: http.SameSiteLaxMode,
	})
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
