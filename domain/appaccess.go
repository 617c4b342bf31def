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
// the rule's roles, or any of its groups (by id) is in the rule's groups.
func ClientAdmits(rule store.ClientAccess, effectiveRoles []string, groupIDs []string) bool {
	if !rule.Restricted() {
		return true
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
// groups once (the roles come from the cache).
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
	return ClientAdmits(c.Access, accessOf(u, groups, all, s.now()).Roles, groupIDs), nil
}

// checkClientAccess adds a problem for each role (access.roles) or group id
// (access.groups) of the rule that does not exist.
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
	return nil
}
