package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/store"
)

// ConsentQuestion is an authorization request as the consent rules see it.
type ConsentQuestion struct {
	UserID, ClientID string
	// FirstParty clients are the operator's own applications: the person
	// is never asked about them.
	FirstParty bool
	// Prompted is true when the client asked for the consent page
	// (prompt=consent).
	Prompted bool
	Scopes   []string
	// Read is the remembered consent read with the login session
	// (CurrentSessionFor), used only if it was read for UserID and
	// ClientID; otherwise, or if nil, ConsentNeeded reads the store.
	Read *ConsentRead
}

// ConsentNeeded reports whether the person must be asked: never for a
// first-party client; always when the client prompts for it; otherwise
// unless a remembered, unexpired consent covers every requested scope (the
// one read with the session, q.Read, when it is this user's to this
// client).
func (s *Service) ConsentNeeded(ctx context.Context, q ConsentQuestion) (bool, error) {
	if q.FirstParty {
		return false, nil
	}
	if q.Prompted {
		return true, nil
	}
	got, err := s.rememberedConsent(ctx, q, s.now())
	if err != nil {
		return false, err
	}
	if got == nil {
		return true, nil
	}
	for _, scope := range q.Scopes {
		if !slices.Contains(got.Scopes, scope) {
			return true, nil
		}
	}
	return false, nil
}

// GrantConsent remembers that the user allowed the client scopes, added to
// what it allowed before, so that asking for a subset later does not ask
// again. It lasts Options.ConsentLifetime (0: until revoked).
func (s *Service) GrantConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	now := s.now()
	merged := slices.Clone(scopes)
	prev, err := s.store.GetConsent(ctx, userID, clientID, now)
	switch {
	case err == nil:
		for _, scope := range prev.Scopes {
			if !slices.Contains(merged, scope) {
				merged = append(merged, scope)
			}
		}
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("domain: get consent: %w", err)
	}
	c := store.Consent{UserID: userID, ClientID: clientID, Scopes: merged, GrantedAt: now}
	if s.opts.ConsentLifetime > 0 {
		exp := now.Add(s.opts.ConsentLifetime)
		c.ExpiresAt = &exp
	}
	if err := s.store.SaveConsent(ctx, c); err != nil {
		return fmt.Errorf("domain: save consent: %w", err)
	}
	return nil
}
