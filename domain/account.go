package domain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// This file holds what a person does to their own reach from the account
// pages: the apps they allowed, and signing out everywhere. Each only takes
// something away, which is why the API lets every signed-in person do it.

// AllowedApp is a client a user allowed, as the account pages list it.
type AllowedApp struct {
	ClientID   string
	ClientName string
	Scopes     []string
	GrantedAt  time.Time
	// ExpiresAt is nil for a consent that lasts until revoked.
	ExpiresAt *time.Time
}

// AllowedApps lists the user's remembered, unexpired consents by client id.
// First-party clients are never asked about, so they are not among them.
func (s *Service) AllowedApps(ctx context.Context, userID string) ([]AllowedApp, error) {
	if err := notFoundID("user", userID); err != nil {
		return nil, err
	}
	consents, err := s.store.ListConsents(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("domain: list consents: %w", err)
	}
	out := make([]AllowedApp, 0, len(consents))
	for _, c := range consents {
		app := AllowedApp{ClientID: c.ClientID, Scopes: c.Scopes, GrantedAt: c.GrantedAt, ExpiresAt: c.ExpiresAt}
		// A consent goes with its client (the store cascades), so a
		// missing client is one deleted since the list was read.
		cl, err := s.store.GetClient(ctx, c.ClientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("domain: allowed apps: %w", err)
		}
		app.ClientName = cl.Name
		out = append(out, app)
	}
	return out, nil
}

// RevokeAllowedApp withdraws what the user allowed the client: it forgets
// the remembered consent (expired or not), so the client's next request
// asks again, and revokes every grant the user gave the client (its refresh
// and access tokens stop working at once), audited "consent.revoke" with
// the client as target and the user and forgotten scopes as changes. A
// first-party client has grants but no consent; either is enough. With
// neither, store.ErrNotFound. p must be the user or may act on it.
func (s *Service) RevokeAllowedApp(ctx context.Context, p Principal, userID, clientID string) error {
	if err := notFoundID("user", userID); err != nil {
		return err
	}
	return s.inTx(ctx, "revoke allowed app", func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, u); err != nil {
			return err
		}
		// The zero time finds an expired consent too: it is forgotten all
		// the same.
		c, err := s.store.GetConsent(ctx, userID, clientID, time.Time{})
		hadConsent := err == nil
		switch {
		case hadConsent:
			if err := s.store.DeleteConsent(ctx, userID, clientID); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		revoked, err := s.store.RevokeGrantsByUser(ctx, userID, clientID)
		if err != nil {
			return err
		}
		if !hadConsent && revoked == 0 {
			return notFound("%s has not allowed the app %q anything", u.Username, clientID)
		}
		ch := changes{"user_id": {Before: userID}, "grants": {Before: revoked, After: 0}}
		if hadConsent {
			ch["scopes"] = store.Change{Before: auditList(c.Scopes)}
		}
		return s.audit(ctx, p.Actor, "consent.revoke", TargetClient, clientID, ch)
	})
}

// SignedOut is what SignOutEverywhere ended.
type SignedOut struct {
	// Sessions is how many live browser sessions ended.
	Sessions int
	// Grants is how many grants (with their refresh and access tokens)
	// were revoked, those of the sessions included.
	Grants int
}

// SignOutEverywhere ends every login session of the user and revokes every
// grant the user gave any client, those made outside a session or whose
// session is gone included, in one transaction, audited
// "session.revoke_all" on the user. The tokens of the request making it
// stop working too, if they are the user's. API tokens are not touched:
// they are revoked one by one (DELETE /tokens/{id}). p must be the user or
// may act on it (mayActOn).
func (s *Service) SignOutEverywhere(ctx context.Context, p Principal, userID string) (SignedOut, error) {
	if err := notFoundID("user", userID); err != nil {
		return SignedOut{}, err
	}
	var out SignedOut
	err := s.inTx(ctx, "sign out everywhere", func(ctx context.Context) error {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if err := s.mayActOn(ctx, p, u); err != nil {
			return err
		}
		// Counted as the user's session list shows them: the live ones.
		// endSessions also ends those past their expiry.
		live, err := s.store.ListLoginSessions(ctx, userID, s.now())
		if err != nil {
			return err
		}
		// Grants first, while the sessions still name them: the count is
		// then of everything this revoked.
		grants, err := s.store.RevokeGrantsByUser(ctx, userID, "")
		if err != nil {
			return err
		}
		if err := s.endSessions(ctx, userID); err != nil {
			return err
		}
		out = SignedOut{Sessions: len(live), Grants: grants}
		return s.audit(ctx, p.Actor, "session.revoke_all", TargetUser, userID, changes{
			"sessions": {Before: len(live), After: 0},
			"grants":   {Before: grants, After: 0},
		})
	})
	if err != nil {
		return SignedOut{}, err
	}
	return out, nil
}
