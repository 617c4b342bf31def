package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/store"
)

// Break-glass token lifetimes. A break-glass account's login session ends
// at most an hour after its sign-in (domain.BreakGlassSessionLifetime) and
// its grants get no refresh token; its access and ID tokens must not run
// on past that end either, or a token minted at minute 59 would extend the
// emergency hour by a whole token lifetime. The deadline is decided by the
// domain when the grant is made (the authorization or the device
// approval) and kept in the grant's session (Session.NotAfter); every
// token minted for the grant is capped to it.

// capToBreakGlass records the deadline of u's grant in s, and caps the ID
// token's expiry to it: fosite keeps an exp it finds in the claims, and
// otherwise sets now plus the lifetime.
func (p *Provider) capToBreakGlass(ctx context.Context, s *Session, u store.User, c fosite.Client) error {
	deadline, err := p.svc.BreakGlassDeadline(ctx, u, s.LoginSessionID, s.IDTokenClaims().AuthTime)
	if err != nil {
		return fmt.Errorf("provider: break-glass deadline: %w", err)
	}
	if deadline.IsZero() {
		return nil
	}
	s.NotAfter = deadline.UTC()
	// The code may be redeemed minutes from now; its ID token expires no
	// later than its lifetime from now, nor than the deadline.
	lifespan := fosite.GetEffectiveLifespan(c, fosite.GrantTypeAuthorizationCode, fosite.IDToken, p.opts.Lifetimes.IDToken)
	exp := p.now().Add(lifespan).UTC()
	if s.NotAfter.Before(exp) {
		exp = s.NotAfter
	}
	s.IDTokenClaims().ExpiresAt = exp.Truncate(time.Second)
	return nil
}

// capAccessToken caps the access token the request is about to mint to
// the grant's deadline, once fosite (or the device grant) has set its
// expiry: invalid_grant when the deadline has passed.
func capAccessToken(s *Session, now time.Time) error {
	if s.NotAfter.IsZero() {
		return nil
	}
	if !s.NotAfter.After(now) {
		return fosite.ErrInvalidGrant.WithHint("The emergency (break-glass) session of this grant has ended.")
	}
	if at := s.GetExpiresAt(fosite.AccessToken); at.IsZero() || at.After(s.NotAfter) {
		s.SetExpiresAt(fosite.AccessToken, s.NotAfter.Truncate(time.Second))
	}
	return nil
}
