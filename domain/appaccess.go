package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/store"
)

// ClientAdmits is the one rule of app access: a client with an empty
// access rule admits everyone; otherwise a user is admitted if any of its
// effective roles (own and its groups', closed over the hierarchy) is in
// the rule's roles, any of its groups (by id) is in the rule's groups, or
// any area it reaches is in the rule's areas. areaReach is the codes of
// the user's areas and of every area above them (AreaReachOf), so that a
// listed area admits the members of its whole subtree.
func ClientAdmits(rule store.ClientAccess, effectiveRoles, groupIDs, areaReach []string) bool {
	if !rule.Restricted() {
		return true
	}
	for _, a := range areaReach {
		if slices.Contains(rule.Areas, a) {
			return true
		}
	}
	for _, r := range effectiveRoles {
		if slices.Contains(rule.Roles, r) {
			return true
		}
	}
	for _, g := range groupIDs {
		if slices.Contains(rule.Groups, g) {
			return true
		}
	}
	return false
}

// MayUseClient reports whether u may use client c under c's access rule
// (ClientAdmits), with u's effective roles as every other check sees them
// (accessOf: expired grants ignored, groups and the hierarchy followed).
// An unrestricted client costs nothing; a restricted one reads the user's
// groups once (the roles come from the cache), and a rule with areas that
// roles and groups did not satisfy reads the user's areas and their
// ancestors.
func (s *Service) MayUseClient(ctx context.Context, u store.User, c store.Client) (bool, error) {
	if !c.Access.Restricted() {
		return true, nil
	}
	var groups []store.Group
	if u.ID != "" {
		var err error
		if groups, err = s.store.ListUserGroups(ctx, u.ID); err != nil {
			return false, fmt.Errorf("domain: app access: %w", err)
		}
	}
	all, err := s.cachedRoleMap(ctx)
	if err != nil {
		return false, fmt.Errorf("domain: app access: %w", err)
	}
	groupIDs := make([]string, len(groups))
	for i, g := range groups {
		groupIDs[i] = g.ID
	}
	roles := accessOf(u, groups, all, s.now()).Roles
	if ClientAdmits(c.Access, roles, groupIDs, nil) || len(c.Access.Areas) == 0 || u.ID == "" {
		return ClientAdmits(c.Access, roles, groupIDs, nil), nil
	}
	reach, err := s.areaReachOf(ctx, u.ID)
	if err != nil {
		return false, fmt.Errorf("domain: app access: %w", err)
	}
	return ClientAdmits(c.Access, roles, groupIDs, reach), nil
}

// areaReachOf is the codes of the areas userID is a member of and of every
// area above them. The walk up stops at a root or at an area seen before,
// so a tree being moved meanwhile cannot make it loop.
func (s *Service) areaReachOf(ctx context.Context, userID string) ([]string, error) {
	m, err := s.store.AreasOfUsers(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range m[userID].Areas {
		for !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a.Code)
			if a.ParentID == "" {
				break
			}
			a, err = s.store.GetArea(ctx, a.ParentID)
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// checkClientAccess adds a problem for each role (access.roles), group id
// (access.groups) or area code (access.areas) of the rule that does not
// exist.
func (s *Service) checkClientAccess(ctx context.Context, v *problems, a store.ClientAccess, all map[string]store.Role) error {
	for _, r := range a.Roles {
		if _, ok := all[r]; !ok {
			v.add("access.roles", "%q is not a role", r)
		}
	}
	for _, id := range a.Groups {
		if _, err := s.store.GetGroup(ctx, id); errors.Is(err, store.ErrNotFound) {
			v.add("access.groups", "%q is not a group", id)
		} else if err != nil {
			return err
		}
	}
	for _, code := range a.Areas {
		if _, err := s.store.GetAreaByCode(ctx, code); errors.Is(err, store.ErrNotFound) {
			v.add("access.areas", "%q is not an area", code)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// normalAccess trims, deduplicates and orders each list of the rule, so
// that the stored rule and its audit entry read the same.
func normalAccess(a store.ClientAccess) store.ClientAccess {
	return store.ClientAccess{Roles: set(a.Roles), Groups: set(a.Groups), Areas: set(a.Areas)}
}
