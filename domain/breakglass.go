package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Break-glass (emergency) accounts. An administrator flags an account
// break_glass (store.User.BreakGlass) for the day the usual way in is
// broken: a lost second factor, an upstream provider down. Such an account
// still signs in with its own password and, if it has one, its own second
// factor; what it skips is the MFA enrolment its roles would demand
// (MFARequired). In return every sign-in of it stands out: its login
// session lasts at most BreakGlassSessionLifetime whatever the
// configuration, it gets no refresh token (provider/authorize.go drops
// offline_access), it is audited as "login.break_glass" with the address,
// and every administrator gets a mail through the outbox, in the
// transaction that starts the session.

// BreakGlassSessionLifetime caps the absolute lifetime of a break-glass
// account's login session.
const BreakGlassSessionLifetime = time.Hour

// ActionBreakGlassLogin is the audit action of a break-glass sign-in: an
// action of its own, so that the audit log can be searched and shown for
// it.
const ActionBreakGlassLogin = "login.break_glass"

// maxBreakGlassNotices bounds the administrators mailed per sign-in: the
// directory may be large, the outbox is bounded, and a few hundred
// recipients already tell everybody who matters.
const maxBreakGlassNotices = 200

// breakGlassLifetime is the lifetime a session of u gets instead of
// lifetime: capped at BreakGlassSessionLifetime for a break-glass account.
func breakGlassLifetime(u store.User, lifetime time.Duration) time.Duration {
	if u.BreakGlass && (lifetime <= 0 || lifetime > BreakGlassSessionLifetime) {
		return BreakGlassSessionLifetime
	}
	return lifetime
}

// BreakGlassDeadline is the instant no token of u's grant made in login
// session lsID (signed in at authTime) may outlive: for a break-glass
// account the end of that session, and never more than
// BreakGlassSessionLifetime after the sign-in, so that an access or ID
// token of the emergency hour does not run on past it. A session that is
// gone has ended: the deadline is now. Zero for every other account.
func (s *Service) BreakGlassDeadline(ctx context.Context, u store.User, lsID string, authTime time.Time) (time.Time, error) {
	if !u.BreakGlass {
		return time.Time{}, nil
	}
	now := s.now()
	end := now.Add(BreakGlassSessionLifetime)
	if !authTime.IsZero() {
		end = authTime.Add(BreakGlassSessionLifetime)
	}
	if lsID == "" {
		return end, nil
	}
	ls, err := s.store.GetLoginSession(ctx, lsID, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return minTime(end, now), nil
	case err != nil:
		return time.Time{}, fmt.Errorf("domain: break-glass deadline: %w", err)
	}
	return minTime(end, ls.ExpiresAt), nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// noteBreakGlass records a break-glass sign-in of u from ip into session ls
// and queues a notice to every active administrator, in the caller's
// transaction. Nothing for other accounts.
func (s *Service) noteBreakGlass(ctx context.Context, u store.User, ip string, ls store.LoginSession) error {
	if !u.BreakGlass {
		return nil
	}
	s.opts.Logger.WarnContext(ctx, "break-glass account signed in", "user_id", u.ID, "username", u.Username, "ip", ip)
	c := changes{
		"session_expires_at": {After: ls.ExpiresAt.UTC().Format(time.RFC3339)},
		"amr":                {After: auditList(ls.AMR)},
	}
	if err := s.audit(ctx, Actor{Type: store.ActorUser, ID: u.ID, IP: ip}, ActionBreakGlassLogin, TargetUser, u.ID, c); err != nil {
		return err
	}
	if !s.MailEnabled() {
		return nil
	}
	admins, err := s.activeAdmins(ctx)
	if err != nil {
		return err
	}
	subject, body := breakGlassMail(u, ip, ls, s.opts.Recovery.Issuer)
	for _, a := range admins {
		if a.Email == "" || a.ID == u.ID {
			continue
		}
		// A full outbox does not keep the emergency account out: the
		// audit entry above stands, and the warning is logged.
		if err := s.tryEnqueue(ctx, a.Email, subject, body); err != nil {
			return err
		}
	}
	return nil
}

// activeAdmins lists the active users holding the admin role, directly or
// through a group (at most maxBreakGlassNotices of them), each once.
func (s *Service) activeAdmins(ctx context.Context) ([]store.User, error) {
	now := s.now()
	filters := []store.UserFilter{{Role: AdminRole, Status: store.StatusActive, Now: now, Limit: maxBreakGlassNotices}}
	groups, err := s.store.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list groups: %w", err)
	}
	all, err := s.roleMap(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if roles, _ := closeRoles(all, g.Roles); slices.Contains(roles, AdminRole) {
			filters = append(filters, store.UserFilter{Group: g.ID, Status: store.StatusActive, Now: now, Limit: maxBreakGlassNotices})
		}
	}
	var out []store.User
	seen := map[string]bool{}
	for _, f := range filters {
		users, err := s.store.ListUsers(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("domain: list admins: %w", err)
		}
		for _, u := range users {
			if !seen[u.ID] && len(out) < maxBreakGlassNotices {
				seen[u.ID] = true
				out = append(out, u)
			}
		}
	}
	return out, nil
}

func breakGlassMail(u store.User, ip string, ls store.LoginSession, issuer string) (string, string) {
	var b strings.Builder
	b.WriteString("Hello,\n\n")
	fmt.Fprintf(&b, "The emergency (break-glass) account %s signed in at %s", u.Username, ls.AuthTime.UTC().Format(time.RFC3339))
	if ip != "" {
		fmt.Fprintf(&b, " from %s", ip)
	}
	b.WriteString(".\n")
	fmt.Fprintf(&b, "Its session ends at %s at the latest.\n\n", ls.ExpiresAt.UTC().Format(time.RFC3339))
	b.WriteString("If this was not expected, lock the account and review the audit log (action " + ActionBreakGlassLogin + "):\n")
	b.WriteString(strings.TrimRight(issuer, "/") + "/console/\n")
	b.WriteString("\n-- \ngatehouse\n")
	return "Emergency account " + u.Username + " signed in", b.String()
}
