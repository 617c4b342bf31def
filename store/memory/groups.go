package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/store"
)

func copyGroup(g store.Group) store.Group {
	// Roles are a set, as rows of a join table are: sorted, no repeats.
	g.Roles = list(g.Roles)
	slices.Sort(g.Roles)
	g.Roles = slices.Compact(g.Roles)
	g.CreatedAt = stamp(g.CreatedAt)
	g.UpdatedAt = stamp(g.UpdatedAt)
	return g
}

// checkGroup applies the rules shared by create and update, other than the
// uniqueness of the id.
func (s *Store) checkGroup(g store.Group) error {
	if owner, ok := s.groupNames[g.Name]; ok && owner != g.ID {
		return fmt.Errorf("group name %q: %w", g.Name, store.ErrConflict)
	}
	// The column's CHECK (migrations/00025_scim.sql).
	if n := utf8.RuneCountInString(g.ExternalID); n > 255 {
		return fmt.Errorf("external id of %d characters: at most 255", n)
	}
	for _, r := range g.Roles {
		if _, ok := s.roles[r]; !ok {
			return fmt.Errorf("role %q: %w", r, store.ErrNotFound)
		}
	}
	return nil
}

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	return s.do(ctx, "create group", func(o op) error {
		id, ok := canonicalUUID(g.ID)
		if !ok {
			return fmt.Errorf("id %q is not a UUID", g.ID)
		}
		g.ID = id
		if _, ok := s.groups[id]; ok {
			return store.ErrConflict
		}
		if err := s.checkGroup(g); err != nil {
			return err
		}
		put(o, s.groups, id, copyGroup(g))
		put(o, s.groupNames, g.Name, id)
		return nil
	})
}

func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	var out store.Group
	err := s.do(ctx, "get group", func(op) error {
		gid, _ := canonicalUUID(id)
		g, ok := s.groups[gid]
		if !ok {
			return store.ErrNotFound
		}
		out = copyGroup(g)
		return nil
	})
	return out, err
}

// UpdateGroup keeps CreatedAt and takes UpdatedAt from g (the clock's time
// if g carries none), as UpdateRole does.
func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	return s.principalChanged(s.updateGroup(ctx, g), store.ChangeGroup, g.ID)
}

func (s *Store) updateGroup(ctx context.Context, g store.Group) error {
	return s.do(ctx, "update group", func(o op) error {
		id, _ := canonicalUUID(g.ID)
		old, ok := s.groups[id]
		if !ok {
			return store.ErrNotFound
		}
		g.ID = id
		if err := s.checkGroup(g); err != nil {
			return err
		}
		upd := old
		upd.Name = g.Name
		upd.Description = g.Description
		upd.Roles = g.Roles
		upd.UpdatedAt = g.UpdatedAt
		upd.ExternalID = g.ExternalID
		if upd.UpdatedAt.IsZero() {
			upd.UpdatedAt = s.now()
		}
		del(o, s.groupNames, old.Name)
		put(o, s.groups, id, copyGroup(upd))
		put(o, s.groupNames, upd.Name, id)
		return nil
	})
}

func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	return s.principalChanged(s.deleteGroup(ctx, id), store.ChangeGroup, id)
}

func (s *Store) deleteGroup(ctx context.Context, id string) error {
	return s.do(ctx, "delete group", func(o op) error {
		gid, _ := canonicalUUID(id)
		g, ok := s.groups[gid]
		if !ok {
			return store.ErrNotFound
		}
		for k := range s.members {
			if k.groupID == gid {
				del(o, s.members, k)
			}
		}
		del(o, s.groupNames, g.Name)
		del(o, s.groups, gid)
		return nil
	})
}

func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	var out []store.Group
	err := s.do(ctx, "list groups", func(op) error {
		for _, g := range s.groups {
			out = append(out, copyGroup(g))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortGroups(out)
	return out, nil
}

// sortGroups orders by name in byte order, as COLLATE "C" does.
func sortGroups(gs []store.Group) {
	slices.SortFunc(gs, func(a, b store.Group) int { return strings.Compare(a.Name, b.Name) })
}

func (s *Store) AddGroupMember(ctx context.Context, groupID, userID string) error {
	return s.principalChanged(s.addGroupMember(ctx, groupID, userID), store.ChangeUser, userID)
}

func (s *Store) addGroupMember(ctx context.Context, groupID, userID string) error {
	return s.do(ctx, "add group member", func(o op) error {
		gid, _ := canonicalUUID(groupID)
		if _, ok := s.groups[gid]; !ok {
			return fmt.Errorf("group %q: %w", groupID, store.ErrNotFound)
		}
		uid, _ := canonicalUUID(userID)
		if _, ok := s.users[uid]; !ok {
			return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
		}
		k := memberKey{gid, uid}
		if _, ok := s.members[k]; !ok {
			put(o, s.members, k, struct{}{})
		}
		return nil
	})
}

func (s *Store) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	return s.principalChanged(s.removeGroupMember(ctx, groupID, userID), store.ChangeUser, userID)
}

func (s *Store) removeGroupMember(ctx context.Context, groupID, userID string) error {
	return s.do(ctx, "remove group member", func(o op) error {
		gid, _ := canonicalUUID(groupID)
		uid, _ := canonicalUUID(userID)
		k := memberKey{gid, uid}
		if _, ok := s.members[k]; !ok {
			return store.ErrNotFound
		}
		del(o, s.members, k)
		return nil
	})
}

// ListGroupMembers returns an empty list for a group that does not exist:
// it has no members.
func (s *Store) ListGroupMembers(ctx context.Context, groupID string) ([]string, error) {
	out := []string{}
	err := s.do(ctx, "list group members", func(op) error {
		gid, ok := canonicalUUID(groupID)
		if !ok {
			return nil
		}
		for k := range s.members {
			if k.groupID == gid {
				out = append(out, k.userID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Canonical UUIDs sort as their bytes do, the order of a uuid column.
	slices.Sort(out)
	return out, nil
}

func (s *Store) ListUserGroups(ctx context.Context, userID string) ([]store.Group, error) {
	var out []store.Group
	err := s.do(ctx, "list user groups", func(op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for k := range s.members {
			if k.userID == uid {
				out = append(out, copyGroup(s.groups[k.groupID]))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortGroups(out)
	return out, nil
}

// GroupsOfUsers scans the memberships once for the whole page.
func (s *Store) GroupsOfUsers(ctx context.Context, userIDs []string) (map[string][]store.Group, error) {
	out := map[string][]store.Group{}
	err := s.do(ctx, "groups of users", func(op) error {
		want := map[string]bool{}
		for _, id := range userIDs {
			if uid, ok := canonicalUUID(id); ok {
				want[uid] = true
			}
		}
		for k := range s.members {
			if want[k.userID] {
				out[k.userID] = append(out[k.userID], copyGroup(s.groups[k.groupID]))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, groups := range out {
		sortGroups(groups)
	}
	return out, nil
}
