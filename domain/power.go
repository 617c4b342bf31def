package domain

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Operator is the principal of whoever runs gatehouse itself: the CLI, dev
// seeding, the system. It may act on anyone, as the owner of the database
// can; only the last-admin rule binds it.
func Operator(a Actor) Principal { return Principal{Actor: a, operator: true} }

// authority is what the principal may do to other people: its permissions
// before an API token's scopes narrowed them (a token scoped to
// users:status still speaks for a person), within its maker's when it
// acts through someone else's token.
func (p Principal) authority() map[string]bool {
	if p.Authority != nil {
		return p.Authority
	}
	return p.Permissions
}

// mayActOn is the rule that no one acts on someone with more power: the
// caller must hold every permission the target holds. Acting on oneself
// is not acting on someone else, unless through a token someone else made.
func (s *Service) mayActOn(ctx context.Context, p Principal, target store.User) error {
	if p.operator {
		return nil
	}
	if p.User != nil && p.User.ID == target.ID && p.Issuer == nil {
		return nil
	}
	_, perms, err := s.userRoles(ctx, target)
	if err != nil {
		return err
	}
	if extra := outranks(perms, p.authority()); len(extra) > 0 {
		return forbidden("%s holds %s, which you do not: nobody acts on someone with more power", target.Username, strings.Join(extra, ", "))
	}
	return nil
}

// Power counts gatehouse's own permissions only. Custom permissions are
// names for relying parties ("models:use"): they confer no power over
// gatehouse, so an admin who lacks one may still lock, change or deny the
// permissions of a user who has it. Giving someone a custom permission is
// another matter (mayConfer): that is handing out something the relying
// party trusts.

// builtIn keeps the built-in permissions of perms.
func builtIn(perms map[string]bool) map[string]bool {
	out := make(map[string]bool, len(perms))
	for k, ok := range perms {
		if ok && IsBuiltInPermission(k) {
			out[k] = true
		}
	}
	return out
}

// custom keeps the custom (non-built-in) permissions of perms.
func custom(perms map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k, ok := range perms {
		if ok && !IsBuiltInPermission(k) {
			out[k] = true
		}
	}
	return out
}

// outranks lists, sorted, the built-in permissions of target that have
// lacks: empty when have has at least target's power over gatehouse.
func outranks(target, have map[string]bool) []string {
	return missing(builtIn(target), have)
}

// holdsEveryBuiltIn reports whether have holds every built-in permission:
// an admin with nothing denied.
func holdsEveryBuiltIn(have map[string]bool) bool {
	for _, k := range KnownPermissions() {
		if !have[k] {
			return false
		}
	}
	return true
}

// mayConfer is the rule for giving someone the permissions perms (the
// role being granted, the user being impersonated): the caller must hold
// each custom permission among them, unless it holds every built-in
// permission, since an admin could attach any custom permission to a role
// of its own anyway. Built-in permissions are the caller's route and
// mayActOn's business, not this rule's. what names the act for the
// refusal.
func mayConfer(p Principal, perms map[string]bool, what string) error {
	if p.operator {
		return nil
	}
	have := p.authority()
	if holdsEveryBuiltIn(have) {
		return nil
	}
	if extra := missing(custom(perms), have); len(extra) > 0 {
		return forbidden("%s confers %s, which you do not hold: only a holder or an admin hands out a custom permission", what, strings.Join(extra, ", "))
	}
	return nil
}

// rolePermissions are the permissions role carries, its ancestors' with
// its own.
func rolePermissions(all map[string]store.Role, role string) map[string]bool {
	_, perms := closeRoles(all, []string{role})
	return perms
}

// grantedRoles are the roles next holds at now that cur did not, or holds
// for longer (a time-boxed assignment extended or made permanent): what a
// change of roles grants.
func grantedRoles(cur, next store.User, now time.Time) []string {
	var out []string
	for _, r := range next.Roles {
		if !RoleHeld(next, r, now) {
			continue
		}
		if !RoleHeld(cur, r, now) {
			out = append(out, r)
			continue
		}
		was, wasBoxed := cur.RoleExpiry[r]
		is, isBoxed := next.RoleExpiry[r]
		if wasBoxed && (!isBoxed || is.After(was)) {
			out = append(out, r)
		}
	}
	return out
}

// isAdmin reports whether u is an active user holding the admin role
// (directly, unexpired, or through a group) with nothing denied: an admin
// whose deny list took users:roles away could not make anyone admin, so
// the last-admin rule counts only whole admins.
func (s *Service) isAdmin(ctx context.Context, u store.User) (bool, error) {
	if !UserCanAct(u, s.now(), ActHoldTokens) || len(u.DeniedPermissions) > 0 {
		return false, nil
	}
	roles, _, err := s.userRoles(ctx, u)
	if err != nil {
		return false, err
	}
	return slices.Contains(roles, AdminRole), nil
}

// keepAnAdmin refuses (conflict) a change that would leave no active admin:
// u is an active admin now, would not be after the change, and no other
// active user holds the admin role.
func (s *Service) keepAnAdmin(ctx context.Context, u store.User, after *store.User) error {
	before, err := s.isAdmin(ctx, u)
	if err != nil || !before {
		return err
	}
	// Two admins demoting each other at once must not both see the other
	// still there: the role lock orders such changes, and the second then
	// reads what the first committed.
	if err := s.store.LockRoles(ctx); err != nil {
		return err
	}
	if after != nil {
		still, err := s.isAdmin(ctx, *after)
		if err != nil || still {
			return err
		}
	}
	others, err := s.otherAdmins(ctx, u.ID)
	if err != nil {
		return err
	}
	if !others {
		return conflict("%s is the last active admin: make someone else admin first", u.Username)
	}
	return nil
}

// otherAdmins reports whether an active admin other than the user with id
// exists: holding the role directly, or through a group that has it.
func (s *Service) otherAdmins(ctx context.Context, id string) (bool, error) {
	now := s.now()
	filters := []store.UserFilter{{Role: AdminRole, Status: store.StatusActive, Now: now, Limit: 100}}
	groups, err := s.store.ListGroups(ctx)
	if err != nil {
		return false, fmt.Errorf("domain: list groups: %w", err)
	}
	all, err := s.roleMap(ctx)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if roles, _ := closeRoles(all, g.Roles); slices.Contains(roles, AdminRole) {
			filters = append(filters, store.UserFilter{Group: g.ID, Status: store.StatusActive, Now: now, Limit: 100})
		}
	}
	for _, f := range filters {
		users, err := s.store.ListUsers(ctx, f)
		if err != nil {
			return false, fmt.Errorf("domain: list admins: %w", err)
		}
		for _, u := range users {
			if u.ID == id {
				continue
			}
			// The role filter finds assignments the janitor has not
			// removed yet: an expired one makes no admin, nor does the
			// role with permissions denied (isAdmin).
			if admin, err := s.isAdmin(ctx, u); err != nil || admin {
				return admin, err
			}
		}
	}
	return false, nil
}
