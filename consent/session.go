package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

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
	// AMR and ACR say how the session's sign-in authenticated (domain's
	// AMR* and ACR* values); empty for sessions from before MFA.
	AMR []string
	ACR string
	// Consent is the user's remembered consent to the client
	// CurrentSessionFor was asked about, for the consent rules
	// (domain.ConsentQuestion.Read); nil from CurrentSession.
	Consent *domain.ConsentRead
}

func (p *Pages) sessionCookieName() string { return p.jar().Name(p.sessionCookie()) }

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
// (nil, nil) if there is none, it expired, or its user may no longer keep a
// session (domain.UserCanAct). A pending user's session is returned so that
// it can request access; callers that grant anything must check
// Session.User.Status.
func (p *Pages) CurrentSession(r *http.Request) (*Session, error) {
	id := p.requestSessionID(r)
	if id == "" {
		return nil, nil
	}
	ls, u, err := p.svc.CurrentSession(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consent: current session: %w", err)
	}
	return &Session{ID: ls.ID, User: u, AuthTime: ls.AuthTime, AMR: ls.AMR, ACR: ls.ACR}, nil
}

// CurrentSessionFor is CurrentSession for an authorization request of
// clientID: the session comes with the user's remembered consent to the
// client (Session.Consent), read with it in one round trip, for the
// consent rules to use instead of reading it again.
func (p *Pages) CurrentSessionFor(r *http.Request, clientID string) (*Session, error) {
	id := p.requestSessionID(r)
	if id == "" {
		return nil, nil
	}
	got, err := p.svc.CurrentSessionFor(r.Context(), id, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("consent: current session: %w", err)
	}
	ls := got.Session
	return &Session{ID: ls.ID, User: got.User, AuthTime: ls.AuthTime, AMR: ls.AMR, ACR: ls.ACR, Consent: got.Consent}, nil
}

// startSession replaces the request's login session (if any) by a new one for
// u and sets its cookie; the domain decides what happens to the old one.
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	return p.startSessionAMR(w, r, u, nil)
}

// startSessionAMR is startSession recording the sign-in's methods (nil:
// the password alone).
func (p *Pages) startSessionAMR(w http.ResponseWriter, r *http.Request, u store.User, amr []string) error {
	value, err := randomValue()
	if err != nil {
		return err
	}
	_, err = p.svc.StartSession(r.Context(), domain.NewSession{
		ID:        sessionID(value),
		User:      u,
		Previous:  p.requestSessionID(r),
		UserAgent: r.UserAgent(),
		IP:        clientaddr.IP(r),
		Lifetime:  p.opts.SessionLifetime,
		AMR:       amr,
	})
	if err != nil {
		return fmt.Errorf("consent: start session: %w", err)
	}
	p.jar().Set(w, p.sessionCookie(), value)
	return nil
}

// EndSession signs the request's browser out (domain.Service.EndSession)
// and clears the cookie. No error if there is no session.
func (p *Pages) EndSession(w http.ResponseWriter, r *http.Request) error {
	id := p.requestSessionID(r)
	if _, err := r.Cookie(p.sessionCookieName()); err == nil {
		p.clearSessionCookie(w)
	}
	if id == "" {
		return nil
	}
	if err := p.svc.EndSession(r.Context(), clientaddr.IP(r), id); err != nil {
		return fmt.Errorf("consent: end session: %w", err)
	}
	p.log.Info("consent: signed out", "session", id[:12])
	return nil
}

func (p *Pages) clearSessionCookie(w http.ResponseWriter) { p.jar().Clear(w, p.sessionCookie()) }
