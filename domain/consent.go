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
}

// ConsentNeeded reports whether the person must be asked: never for a
// first-party client; always when the client prompts for it; otherwise
// unless a remembered, unexpired consent covers every requested scope.
func (s *Service) ConsentNeeded(ctx context.Context, q ConsentQuestion) (bool, error) {
	if q.FirstParty {
		return false, nil
	}
	if q.Prompted {
		return true, nil
	}
	got, err := s.store.GetConsent(ctx, q.UserID, q.ClientID, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("domain: get consent: %w", err)
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
