package domain

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Act is what a user asks to do, for UserCanAct.
type Act int

const (
	// ActHoldTokens is obtaining, refreshing or presenting tokens, reading
	// userinfo and calling the API: only an active user may.
	ActHoldTokens Act = iota
	// ActKeepSession is holding a browser session: an active user, and a
	// pending one, who signs in to ask for access and must stay signed in
	// while an administrator decides.
	ActKeepSession
)

// UserCanAct is the one rule for whether u may do act at now. A disabled,
// locked, deleted or expired account may do nothing. A temporary lockout
// after failed passwords (LockedUntil) is not part of it: it only slows
// password guessing at sign-in, and since anyone can trigger it for any
// username, letting it end sessions or tokens would hand an attacker a way to
// shut the real user out.
func UserCanAct(u store.User, now time.Time, act Act) bool {
	// Past its expiry an account is expired whatever it was (a locked or
	// disabled one keeps that status but may not act either).
	if u.ExpiresAt != nil && !now.Before(*u.ExpiresAt) {
		return false
	}
	switch u.EffectiveStatus(now) {
	case store.StatusActive:
		return true
	case store.StatusPending:
		return act == ActKeepSession
	default:
		return false
	}
}

// ActiveUser returns the user with id if it may hold tokens now;
// ErrUnauthenticated (wrapped) if it is gone or may not.
func (s *Service) ActiveUser(ctx context.Context, id string) (store.User, error) {
	u, err := s.store.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return s.ActiveUserOf(id, nil)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("domain: get user: %w", err)
	}
	return s.ActiveUserOf(id, &u)
}

// ActiveUserOf is ActiveUser for a user the caller has read already (nil:
// gone), with the record it was read with: the refresh token grant reads
// its grant's user with the token, in one round trip (store.RefreshTokens).
func (s *Service) ActiveUserOf(id string, u *store.User) (store.User, error) {
	if u == nil {
		return store.User{}, fmt.Errorf("domain: user %s is gone: %w", id, ErrUnauthenticated)
	}
	if !UserCanAct(*u, s.now(), ActHoldTokens) {
		return store.User{}, fmt.Errorf("domain: user %s may not hold tokens: %w", id, ErrUnauthenticated)
	}
	return *u, nil
}
