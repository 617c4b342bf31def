package domain

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/store"
)

// SCIM 2.0 provisioning: what scim/ needs of the directory beyond what the
// resource API uses. The rules stay here; scim/ only translates.

// MaxExternalIDLength bounds a user's external id (the column's CHECK
// says the same).
const MaxExternalIDLength = 255

// applyExternalID validates and applies a new external id: the
// provisioning client's own identifier, kept as given but for surrounding
// space, on one line.
func (v *problems) applyExternalID(u *store.User, id *string) {
	if id != nil {
		u.ExternalID = v.checkExternalID(*id)
	}
}

// checkExternalID validates an external id (of a user or a group) and
// returns it trimmed.
func (v *problems) checkExternalID(id string) string {
	ext := strings.TrimSpace(id)
	switch {
	case utf8.RuneCountInString(ext) > MaxExternalIDLength:
		v.add("external_id", "must be at most %d characters", MaxExternalIDLength)
	case strings.ContainsAny(ext, "\r\n\x00"):
		v.add("external_id", "must be one line of text")
	}
	return ext
}

// scimFields adds the audited SCIM fields to userFields'.
func scimFields(u store.User, f fields) fields {
	f["external_id"] = u.ExternalID
	return f
}

// AddGroupMemberAs is AddGroupMember for a principal that is not trusted
// with every group: a member gets the group's roles, so p must hold every
// permission those roles carry (with their ancestors) and have power over
// the user, as for any other grant. The audit entry is the same
// "group.member.add".
func (s *Service) AddGroupMemberAs(ctx context.Context, p Principal, groupID, userID string) error {
	return s.changeMember(ctx, p.Actor, groupID, userID, true, s.mayChangeMember(p))
}

// RemoveGroupMemberAs is RemoveGroupMember under the same rule: taking a
// group's roles away is acting on the user.
func (s *Service) RemoveGroupMemberAs(ctx context.Context, p Principal, groupID, userID string) error {
	return s.changeMember(ctx, p.Actor, groupID, userID, false, s.mayChangeMember(p))
}

func (s *Service) mayChangeMember(p Principal) func(ctx context.Context, g store.Group, u store.User) error {
	return func(ctx context.Context, g store.Group, u store.User) error {
		if p.operator {
			return nil
		}
		if err := s.mayActOn(ctx, p, u); err != nil {
			return err
		}
		return s.holdsGroupRoles(ctx, p, g)
	}
}

// holdsGroupRoles refuses a principal that lacks a permission the group's
// roles grant (with their ancestors).
func (s *Service) holdsGroupRoles(ctx context.Context, p Principal, g store.Group) error {
	if p.operator {
		return nil
	}
	all, err := s.roleMap(ctx)
	if err != nil {
		return err
	}
	_, perms := closeRoles(all, g.Roles)
	if extra := missing(perms, p.authority()); len(extra) > 0 {
		return forbidden("the group %s carries %s, which you do not hold", g.Name, strings.Join(extra, ", "))
	}
	return nil
}

// DeleteGroupAs is DeleteGroup for a principal not trusted with every
// group: deleting one takes its roles from all its members, so p must hold
// every permission they grant. The audit entry is "group.delete".
func (s *Service) DeleteGroupAs(ctx context.Context, p Principal, id string) error {
	if err := notFoundID("group", id); err != nil {
		return err
	}
	return s.inTx(ctx, "delete group", func(ctx context.Context) error {
		g, err := s.store.GetGroup(ctx, id)
		if err != nil {
			return err
		}
		if err := s.holdsGroupRoles(ctx, p, g); err != nil {
			return err
		}
		return s.DeleteGroup(ctx, p.Actor, id)
	})
}

// GroupsOfUsers maps each given user's id to the groups it belongs to, by
// name, in one store query: a SCIM user shows its groups by id.
func (s *Service) GroupsOfUsers(ctx context.Context, users ...store.User) (map[string][]store.Group, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	out, err := s.store.GroupsOfUsers(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("domain: groups of users: %w", err)
	}
	return out, nil
}

// Atomically runs fn, which calls the service's own methods with the ctx
// it is given, in one store transaction: every change fn makes, with its
// audit entries, is committed, or none is. It is for a surface whose one
// request is several domain operations (a SCIM PUT sets the profile, the
// status and the password): each operation still applies its own rules.
func (s *Service) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	return store.InTx(ctx, s.store, fn)
}
