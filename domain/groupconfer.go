package domain

import (
	"context"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/store"
)

// A group's roles are its members' roles: adding a member to a group, or
// giving a group a role, hands out what the roles carry as surely as a
// role grant does. So the resource API's caller (and the console, which
// calls it) does either only under the role grant's rule for custom
// permissions (mayConfer): it must hold each one the roles carry, or hold
// every built-in permission. The operator (the CLI and its bulk import)
// is bound by neither, as for role grants; SCIM provisioning has its own,
// stricter rule (AddGroupMemberAs).

// AddGroupMemberBy is AddGroupMember made by the principal p: refused
// with ErrForbidden when the group's roles (with their ancestors) carry a
// custom permission p may not confer. Adding a member again changes
// nothing and is not refused.
func (s *Service) AddGroupMemberBy(ctx context.Context, p Principal, groupID, userID string) error {
	return s.changeMember(ctx, p.Actor, groupID, userID, true, func(ctx context.Context, g store.Group, u store.User) error {
		err := s.mayConferRoles(ctx, p, g.Roles, "membership of "+g.Name)
		if err == nil {
			return nil
		}
		members, lerr := s.store.ListGroupMembers(ctx, g.ID)
		if lerr != nil {
			return lerr
		}
		if slices.Contains(members, u.ID) {
			return nil
		}
		return err
	})
}

// CreateGroupBy is CreateGroup made by the principal p: the group's roles
// are for its members to come, so they take what granting them would.
func (s *Service) CreateGroupBy(ctx context.Context, p Principal, in NewGroup) (store.Group, error) {
	var out store.Group
	err := s.inTx(ctx, "create group", func(ctx context.Context) error {
		if err := s.mayConferRoles(ctx, p, in.Roles, "a group with "+strings.Join(set(in.Roles), ", ")); err != nil {
			return err
		}
		var err error
		out, err = s.CreateGroup(ctx, p.Actor, in)
		return err
	})
	if err != nil {
		return store.Group{}, err
	}
	return out, nil
}

// UpdateGroupBy is UpdateGroup made by the principal p: a role the patch
// gives the group takes what granting it would; roles kept or taken away
// are not weighed.
func (s *Service) UpdateGroupBy(ctx context.Context, p Principal, id string, patch GroupPatch) (store.Group, error) {
	if patch.Roles == nil {
		return s.UpdateGroup(ctx, p.Actor, id, patch)
	}
	if err := notFoundID("group", id); err != nil {
		return store.Group{}, err
	}
	var out store.Group
	err := s.inTx(ctx, "update group", func(ctx context.Context) error {
		cur, err := s.store.GetGroup(ctx, id)
		if err != nil {
			return err
		}
		var added []string
		for _, r := range set(*patch.Roles) {
			if !slices.Contains(cur.Roles, r) {
				added = append(added, r)
			}
		}
		if err := s.mayConferRoles(ctx, p, added, "giving "+cur.Name+" "+strings.Join(added, ", ")); err != nil {
			return err
		}
		out, err = s.UpdateGroup(ctx, p.Actor, id, patch)
		return err
	})
	if err != nil {
		return store.Group{}, err
	}
	return out, nil
}

// mayConferRoles is mayConfer for the permissions roles carry, with their
// ancestors (unknown names carry none: validation refuses them).
func (s *Service) mayConferRoles(ctx context.Context, p Principal, roles []string, what string) error {
	if p.operator || len(roles) == 0 {
		return nil
	}
	all, err := s.roleMap(ctx)
	if err != nil {
		return err
	}
	_, perms := closeRoles(all, roles)
	return mayConfer(p, perms, what)
}
