package domain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// MaxImpersonationLifetime bounds a token that acts as another user: "su"
// is for a look at someone's account, not for a working day.
const MaxImpersonationLifetime = 15 * time.Minute

// ImpersonationRequest is a caller asking, through token exchange
// (RFC 8693), for a token that acts as another user. The caller is the
// subject of the token it presents: a user (CallerUserID) or a
// client_credentials service account (CallerClientID, CallerUserID empty).
type ImpersonationRequest struct {
	CallerUserID   string
	CallerClientID string
	// Target is the user to act as: its id or its username.
	Target string
	// ClientID is the client that asks for the token (audited).
	ClientID string
	// Scopes are the new token's scopes (audited).
	Scopes []string
	IP     string
}

// Impersonation is a granted impersonation: the user the token acts as,
// and the caller, who is recorded beside it (Actor.Act) on everything the
// token is used for.
type Impersonation struct {
	Target store.User
	Caller Actor
}

// Impersonate decides an impersonation and audits it (impersonation.start,
// actor the caller, target the user). It refuses with ErrForbidden a
// caller without users:impersonate or without every permission the target
// holds (nobody gains power by becoming someone else), and with
// ErrUnauthenticated a caller that may no longer act; a target that is
// unknown, the caller itself, or not active is invalid input on field
// "requested_subject", one answer for all three so that the refusal tells
// nothing of who exists.
func (s *Service) Impersonate(ctx context.Context, req ImpersonationRequest) (Impersonation, error) {
	caller, err := s.impersonationCaller(ctx, req)
	if err != nil {
		return Impersonation{}, err
	}
	caller.Actor.IP = req.IP
	if !caller.Can(store.PermUsersImpersonate) {
		return Impersonation{}, forbidden("impersonation needs the %s permission", store.PermUsersImpersonate)
	}
	target, err := s.impersonationTarget(ctx, req.Target)
	if err != nil {
		return Impersonation{}, err
	}
	if caller.User != nil && caller.User.ID == target.ID {
		return Impersonation{}, invalid("requested_subject", "must name an active user other than the caller")
	}
	if err := s.mayActOn(ctx, caller, target); err != nil {
		return Impersonation{}, err
	}
	// mayActOn weighs gatehouse's own permissions only; becoming the
	// target also hands the caller the target's custom permissions, in
	// the claims relying parties trust, so it takes what granting them
	// would.
	_, targetPerms, err := s.userRoles(ctx, target)
	if err != nil {
		return Impersonation{}, err
	}
	if err := mayConfer(caller, targetPerms, "acting as "+target.Username); err != nil {
		return Impersonation{}, err
	}
	err = s.inTx(ctx, "impersonate", func(ctx context.Context) error {
		return s.audit(ctx, caller.Actor, "impersonation.start", TargetUser, target.ID, changes{
			"client_id": {After: req.ClientID},
			"scope":     {After: strings.Join(req.Scopes, " ")},
		})
	})
	if err != nil {
		return Impersonation{}, err
	}
	return Impersonation{Target: target, Caller: Actor{Type: caller.Actor.Type, ID: caller.Actor.ID}}, nil
}

// impersonationCaller is the principal of the caller's token, as it stands
// now: a caller locked since its token was issued impersonates nobody.
func (s *Service) impersonationCaller(ctx context.Context, req ImpersonationRequest) (Principal, error) {
	if req.CallerUserID != "" {
		u, err := s.ActiveUser(ctx, req.CallerUserID)
		if err != nil {
			return Principal{}, err
		}
		return s.UserPrincipal(ctx, u)
	}
	if req.CallerClientID == "" {
		return Principal{}, fmt.Errorf("domain: impersonate: no caller: %w", ErrUnauthenticated)
	}
	c, err := s.store.GetClient(ctx, req.CallerClientID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("domain: impersonating client %s is gone: %w", req.CallerClientID, ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("domain: get client: %w", err)
	}
	return s.ClientPrincipal(ctx, c)
}

// impersonationTarget finds the user named by id or username, if it may
// hold tokens.
func (s *Service) impersonationTarget(ctx context.Context, name string) (store.User, error) {
	refused := invalid("requested_subject", "must name an active user other than the caller")
	if name == "" {
		return store.User{}, invalid("requested_subject", "is required: a user id or username")
	}
	var u store.User
	var err error
	if _, perr := uuid.Parse(name); perr == nil {
		u, err = s.store.GetUser(ctx, name)
	} else {
		u, err = s.store.GetUserByUsername(ctx, strings.ToLower(name))
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, refused
	}
	if err != nil {
		return store.User{}, fmt.Errorf("domain: get user: %w", err)
	}
	if !UserCanAct(u, s.now(), ActHoldTokens) {
		return store.User{}, refused
	}
	return u, nil
}

// ImpersonationLifetime is how long a token acting as another user may
// live: MaxImpersonationLifetime, and never past the caller's own token
// (callerExpiresAt), whose holder could otherwise outlast its own rights.
// Zero or less: the caller's token has run out.
func ImpersonationLifetime(now, callerExpiresAt time.Time) time.Duration {
	d := MaxImpersonationLifetime
	if !callerExpiresAt.IsZero() {
		d = min(d, callerExpiresAt.Sub(now))
	}
	return d
}

// NarrowerScopes reports the requested scopes the subject token does not
// hold: a token exchange may keep or narrow a token's scopes, never widen
// them. The answer is nil when requested is within held.
func NarrowerScopes(held, requested []string) []string {
	have := make(map[string]bool, len(held))
	for _, s := range held {
		have[s] = true
	}
	var wider []string
	for _, s := range requested {
		if !have[s] {
			wider = append(wider, s)
		}
	}
	return wider
}

// ActorMayAct is the one rule for whether whoever acts through a token
// made by token exchange (RFC 8693's act; act is the Actor the token
// records, "user:<id>" or "client:<id>") may still act: a user who may
// hold tokens now (UserCanAct), or a service account whose client still
// exists. An impersonation ends with its impersonator's right to act, not
// only with its own expiry: the resource API and introspection both ask
// here. The token's own user (userID) and client (clientID) are not
// weighed: whoever checks the token checks them already. ErrUnauthenticated
// (wrapped) when the actor may not act; until is when the answer changes
// by itself (the acting account's expiry), zero if it does not.
func (s *Service) ActorMayAct(ctx context.Context, act, userID, clientID string) (until time.Time, err error) {
	typ, id, ok := strings.Cut(act, ":")
	if !ok || id == "" {
		return time.Time{}, nil
	}
	switch store.ActorType(typ) {
	case store.ActorUser:
		if id == userID {
			return time.Time{}, nil
		}
		u, err := s.ActiveUser(ctx, id)
		if err != nil {
			return time.Time{}, err
		}
		if u.ExpiresAt != nil {
			until = *u.ExpiresAt
		}
		return until, nil
	case store.ActorClient:
		if id == clientID {
			return time.Time{}, nil
		}
		_, err := s.store.GetClient(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return time.Time{}, fmt.Errorf("domain: acting client %s is gone: %w", id, ErrUnauthenticated)
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("domain: get client: %w", err)
		}
	}
	return time.Time{}, nil
}
