package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// PAR requests

func copyPAR(p store.PARRequest) store.PARRequest {
	p.ExpiresAt = stamp(p.ExpiresAt)
	p.Request = rawJSON(p.Request)
	return p
}

func (s *Store) CreatePARRequest(ctx context.Context, p store.PARRequest) error {
	return s.do(ctx, "create PAR request", func(o op) error {
		if _, ok := s.pars[p.RequestURI]; ok {
			return store.ErrConflict
		}
		if _, ok := s.clients[p.ClientID]; !ok {
			return fmt.Errorf("client %q: %w", p.ClientID, store.ErrNotFound)
		}
		put(o, s.pars, p.RequestURI, copyPAR(p))
		return nil
	})
}

// GetPARRequest judges expiry by the store's clock: the contract passes no
// time, as PostgreSQL uses its own.
func (s *Store) GetPARRequest(ctx context.Context, requestURI string) (store.PARRequest, error) {
	var out store.PARRequest
	err := s.do(ctx, "get PAR request", func(op) error {
		p, ok := s.pars[requestURI]
		if !ok || !s.now().Before(p.ExpiresAt) {
			return store.ErrNotFound
		}
		out = copyPAR(p)
		return nil
	})
	return out, err
}

func (s *Store) DeletePARRequest(ctx context.Context, requestURI string) error {
	return s.do(ctx, "delete PAR request", func(o op) error {
		if _, ok := s.pars[requestURI]; !ok {
			return store.ErrNotFound
		}
		del(o, s.pars, requestURI)
		return nil
	})
}

func (s *Store) DeleteExpiredPARRequests(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired PAR requests", func(o op) error {
		n = len(deleteExpired(o, s.pars, func(p store.PARRequest) time.Time { return p.ExpiresAt }, now, limit))
		return nil
	})
	return n, err
}

// ---------------------------------------------------------------------------
// Login sessions

func copySession(ls store.LoginSession) store.LoginSession {
	ls.AuthTime = stamp(ls.AuthTime)
	ls.ExpiresAt = stamp(ls.ExpiresAt)
	ls.LastSeenAt = stamp(ls.LastSeenAt)
	ls.AMR = list(ls.AMR)
	return ls
}

func (s *Store) CreateLoginSession(ctx context.Context, ls store.LoginSession) error {
	return s.do(ctx, "create login session", func(o op) error {
		if _, ok := s.sessions[ls.ID]; ok {
			return store.ErrConflict
		}
		id, ok := canonicalUUID(ls.UserID)
		if _, exists := s.users[id]; !ok || !exists {
			return fmt.Errorf("user %q: %w", ls.UserID, store.ErrNotFound)
		}
		ls.UserID = id
		put(o, s.sessions, ls.ID, copySession(ls))
		return nil
	})
}

func (s *Store) GetLoginSession(ctx context.Context, id string, now time.Time) (store.LoginSession, error) {
	var out store.LoginSession
	err := s.do(ctx, "get login session", func(op) error {
		ls, ok := s.sessions[id]
		if !ok || !now.Before(ls.ExpiresAt) {
			return store.ErrNotFound
		}
		out = copySession(ls)
		return nil
	})
	return out, err
}

func (s *Store) TouchLoginSession(ctx context.Context, id string, at time.Time) error {
	return s.do(ctx, "touch login session", func(o op) error {
		ls, ok := s.sessions[id]
		if !ok {
			return store.ErrNotFound
		}
		ls.LastSeenAt = at
		put(o, s.sessions, id, copySession(ls))
		return nil
	})
}

// DeleteLoginSession leaves the grants made in the session: their refresh
// tokens outlive it. Ending them is RevokeGrantsBySession's job.
func (s *Store) DeleteLoginSession(ctx context.Context, id string) error {
	return s.do(ctx, "delete login session", func(o op) error {
		if _, ok := s.sessions[id]; !ok {
			return store.ErrNotFound
		}
		del(o, s.sessions, id)
		s.detachGrants(o, id)
		return nil
	})
}

// detachGrants is PostgreSQL's ON DELETE SET NULL of grants.login_session_id:
// a grant outlives the session it was made in, but no longer names it.
func (s *Store) detachGrants(o op, sessionIDs ...string) {
	for id, g := range s.grants {
		if g.LoginSessionID != "" && slices.Contains(sessionIDs, g.LoginSessionID) {
			g.LoginSessionID = ""
			put(o, s.grants, id, g)
		}
	}
}

// ListLoginSessions orders by sign-in time, newest first.
func (s *Store) ListLoginSessions(ctx context.Context, userID string, now time.Time) ([]store.LoginSession, error) {
	var out []store.LoginSession
	err := s.do(ctx, "list login sessions", func(op) error {
		id, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for _, ls := range s.sessions {
			if ls.UserID == id && now.Before(ls.ExpiresAt) {
				out = append(out, copySession(ls))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.LoginSession) int {
		if c := b.AuthTime.Compare(a.AuthTime); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *Store) DeleteExpiredLoginSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired login sessions", func(o op) error {
		gone := deleteExpired(o, s.sessions, func(ls store.LoginSession) time.Time { return ls.ExpiresAt }, now, limit)
		s.detachGrants(o, gone...)
		n = len(gone)
		return nil
	})
	return n, err
}

// ---------------------------------------------------------------------------
// Consents

func copyConsent(c store.Consent) store.Consent {
	c.Scopes = list(c.Scopes)
	c.GrantedAt = stamp(c.GrantedAt)
	c.ExpiresAt = stampPtr(c.ExpiresAt)
	return c
}

// consentKeyOf returns the key of (user, client); ok is false if the user
// id is no UUID, so that no consent can exist for it.
func consentKeyOf(userID, clientID string) (consentKey, bool) {
	id, ok := canonicalUUID(userID)
	return consentKey{id, clientID}, ok
}

func (s *Store) GetConsent(ctx context.Context, userID, clientID string, now time.Time) (store.Consent, error) {
	var out store.Consent
	err := s.do(ctx, "get consent", func(op) error {
		k, ok := consentKeyOf(userID, clientID)
		if !ok {
			return store.ErrNotFound
		}
		c, ok := s.consents[k]
		if !ok || (c.ExpiresAt != nil && !now.Before(*c.ExpiresAt)) {
			return store.ErrNotFound
		}
		out = copyConsent(c)
		return nil
	})
	return out, err
}

func (s *Store) SaveConsent(ctx context.Context, c store.Consent) error {
	return s.do(ctx, "save consent", func(o op) error {
		k, ok := consentKeyOf(c.UserID, c.ClientID)
		if _, exists := s.users[k.userID]; !ok || !exists {
			return fmt.Errorf("user %q: %w", c.UserID, store.ErrNotFound)
		}
		if _, ok := s.clients[c.ClientID]; !ok {
			return fmt.Errorf("client %q: %w", c.ClientID, store.ErrNotFound)
		}
		c.UserID = k.userID
		put(o, s.consents, k, copyConsent(c))
		return nil
	})
}

func (s *Store) DeleteConsent(ctx context.Context, userID, clientID string) error {
	return s.do(ctx, "delete consent", func(o op) error {
		k, ok := consentKeyOf(userID, clientID)
		if _, exists := s.consents[k]; !ok || !exists {
			return store.ErrNotFound
		}
		del(o, s.consents, k)
		return nil
	})
}

func (s *Store) ListConsents(ctx context.Context, userID string, now time.Time) ([]store.Consent, error) {
	out := []store.Consent{}
	err := s.do(ctx, "list consents", func(op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for k, c := range s.consents {
			if k.userID == uid && (c.ExpiresAt == nil || now.Before(*c.ExpiresAt)) {
				out = append(out, copyConsent(c))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Client ids are compared as PostgreSQL's "C" collation does: by bytes.
	slices.SortFunc(out, func(a, b store.Consent) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out, nil
}
