package domain

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
	if extra := missing(perms, p.authority()); len(extra) > 0 {
		return forbidden("%s holds %s, which you do not: nobody acts on someone with more power", target.Username, strings.Join(extra, ", "))
	}
	return nil
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
