package domain

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// NewGroup is the input of CreateGroup.
type NewGroup struct {
	Name        string
	Description string
	Roles       []string
	// SCIM 2.0 provisioning (scim.go): the provisioning client's id of
	// the group, "" for none.
	ExternalID string
}

// GroupPatch is a partial update of a group.
type GroupPatch struct {
	Name        *string
	Description *string
	Roles       *[]string
	// SCIM 2.0 provisioning (scim.go).
	ExternalID *string
}

const maxGroupNameLength = 100

func groupFields(g store.Group) fields {
	return fields{
		"name":        g.Name,
		"description": g.Description,
		"roles":       auditList(set(g.Roles)),
		// SCIM 2.0 provisioning (scim.go).
		"external_id": g.ExternalID,
	}
}

// checkGroup validates g against the roles and returns it normalized: a
// name of 1–100 characters on one line, a description of at most 500, and
// roles that exist.
func (v *problems) checkGroup(g store.Group, all map[string]store.Role) store.Group {
	g.Name = v.checkText("name", g.Name, maxGroupNameLength, true)
	if g.Name == "" {
		v.add("name", "is required")
	}
	g.Description = v.checkText("description", g.Description, maxDescriptionLength, false)
	g.Roles = set(g.Roles)
	v.checkRoleNames("roles", g.Roles, all)
	return g
}

// CreateGroup validates and stores a group ("group.create"); a taken name is
// store.ErrConflict.
func (s *Service) CreateGroup(ctx context.Context, a Actor, in NewGroup) (store.Group, error) {
	var out store.Group
	err := s.inTx(ctx, "create group", func(ctx context.Context) error {
		all, err := s.roleMap(ctx)
		if err != nil {
			return err
		}
		var v problems
		now := s.now()
		g := v.checkGroup(store.Group{ID: uuid.NewString(), Name: in.Name, Description: in.Description,
			Roles: in.Roles, CreatedAt: now, UpdatedAt: now}, all)
		// SCIM 2.0 provisioning (scim.go).
		g.ExternalID = v.checkExternalID(in.ExternalID)
		if err := v.err(); err != nil {
			return err
		}
		if err := s.store.CreateGroup(ctx, g); err != nil {
			return err
		}
		if err := s.audit(ctx, a, "group.create", TargetGroup, g.ID, onCreate(groupFields(g))); err != nil {
			return err
		}
		out, err = s.store.GetGroup(ctx, g.ID)
		return err
	})
	if err != nil {
		return store.Group{}, err
	}
	return out, nil
}

// GetGroup returns the group and its member user ids (sorted);
// store.ErrNotFound if absent.
func (s *Service) GetGroup(ctx context.Context, id string) (store.Group, []string, error) {
	if err := notFoundID("group", id); err != nil {
		return store.Group{}, nil, err
	}
	g, err := s.store.GetGroup(ctx, id)
	if err != nil {
		return store.Group{}, nil, fmt.Errorf("domain: get group: %w", err)
	}
	members, err := s.store.ListGroupMembers(ctx, id)
	if err != nil {
		return store.Group{}, nil, fmt.Errorf("domain: get group: %w", err)
	}
	if members == nil {
		members = []string{}
	}
	return g, members, nil
}

// ListGroups returns every group by name.
func (s *Service) ListGroups(ctx context.Context) ([]store.Group, error) {
	out, err := s.store.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list groups: %w", err)
	}
	return out, nil
}

// UpdateGroup applies p ("group.update"); a patch that changes nothing
// records nothing.
func (s *Service) UpdateGroup(ctx context.Context, a Actor, id string, p GroupPatch) (store.Group, error) {
	if err := notFoundID("group", id); err != nil {
		return store.Group{}, err
	}
	return update(ctx, s, a, s.groupRecord(), id, "group.update", func(ctx context.Context, cur store.Group) (store.Group, error) {
		all, err := s.roleMap(ctx)
		if err != nil {
			return store.Group{}, err
		}
		next := cur
		if p.Name != nil {
			next.Name = *p.Name
		}
		if p.Description != nil {
			next.Description = *p.Description
		}
		if p.Roles != nil {
			next.Roles = *p.Roles
		}
		var v problems
		next = v.checkGroup(next, all)
		if p.ExternalID != nil {
			// SCIM 2.0 provisioning (scim.go).
			next.ExternalID = v.checkExternalID(*p.ExternalID)
		}
		return next, v.err()
	}, nil)
}

func (s *Service) groupRecord() record[store.Group] {
	return record[store.Group]{
		what: "update group", target: TargetGroup,
		get: s.store.GetGroup, put: s.store.UpdateGroup, fields: groupFields,
		touch: func(g *store.Group, now time.Time) { g.UpdatedAt = now },
	}
}

// DeleteGroup removes the group ("group.delete").
func (s *Service) DeleteGroup(ctx context.Context, a Actor, id string) error {
	if err := notFoundID("group", id); err != nil {
		return err
	}
	return s.inTx(ctx, "delete group", func(ctx context.Context) error {
		cur, err := s.store.GetGroup(ctx, id)
		if err != nil {
			return err
		}
		if err := s.store.DeleteGroup(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, a, "group.delete", TargetGroup, id, onRemove(groupFields(cur)))
	})
}

// AddGroupMember adds the user ("group.member.add"); store.ErrNotFound if
// the group or the user does not exist. Adding a member again changes
// nothing and records nothing.
func (s *Service) AddGroupMember(ctx context.Context, a Actor, groupID, userID string) error {
	return s.changeMember(ctx, a, groupID, userID, true, nil)
}

// RemoveGroupMember removes the user ("group.member.remove");
// store.ErrNotFound if the group does not exist or the user is not a member.
func (s *Service) RemoveGroupMember(ctx context.Context, a Actor, groupID, userID string) error {
	return s.changeMember(ctx, a, groupID, userID, false, nil)
}

// changeMember adds or removes the member; check, when not nil, may refuse
// the change once the group and the user are read in the transaction.
func (s *Service) changeMember(ctx context.Context, a Actor, groupID, userID string, add bool,
	check func(ctx context.Context, g store.Group, u store.User) error) error {
	if err := notFoundID("group", groupID); err != nil {
		return err
	}
	if err := notFoundID("user", userID); err != nil {
		return err
	}
	what := "remove group member"
	if add {
		what = "add group member"
	}
	return s.inTx(ctx, what, func(ctx context.Context) error {
		g, err := s.store.GetGroup(ctx, groupID)
		if err != nil {
			return err
		}
		members, err := s.store.ListGroupMembers(ctx, groupID)
		if err != nil {
			return err
		}
		// Compare by the store's spelling of the id.
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(ctx, g, u); err != nil {
				return err
			}
		}
		isMember := slices.Contains(members, u.ID)
		if add {
			if isMember {
				return nil
			}
			if err := s.store.AddGroupMember(ctx, groupID, u.ID); err != nil {
				return err
			}
			return s.audit(ctx, a, "group.member.add", TargetGroup, groupID,
				changes{"member": {After: u.ID}})
		}
		if !isMember {
			return notFound("user %s is not a member of group %s", u.ID, groupID)
		}
		if err := s.store.RemoveGroupMember(ctx, groupID, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, a, "group.member.remove", TargetGroup, groupID,
			changes{"member": {Before: u.ID}})
	})
}

// Membership is what a user's view shows beyond its record: the names of
// its groups, sorted, and its effective roles (own and groups', with every
// ancestor, sorted).
type Membership struct {
	Groups         []string
	EffectiveRoles []string
}

// Memberships answers for a whole page of users with one store query (their
// groups, with the groups' roles) and the cached role definitions, so that a
// list costs what a single user does. Every given user has an entry, keyed
// by its id.
func (s *Service) Memberships(ctx context.Context, users ...store.User) (map[string]Membership, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	groups, err := s.store.GroupsOfUsers(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("domain: memberships: %w", err)
	}
	all, err := s.cachedRoleMap(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: memberships: %w", err)
	}
	now := s.now()
	out := make(map[string]Membership, len(users))
	for _, u := range users {
		m := Membership{Groups: []string{}}
		for _, g := range groups[u.ID] {
			m.Groups = append(m.Groups, g.Name)
		}
		m.EffectiveRoles = accessOf(u, groups[u.ID], all, now).Roles
		out[u.ID] = m
	}
	return out, nil
}
