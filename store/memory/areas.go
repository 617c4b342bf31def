package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/store"
)

// Areas (areas): the tree, memberships and role grants, with the rules
// PostgreSQL's foreign keys and the store's cycle check enforce there.

type areaMemberKey struct{ areaID, userID string }

type areaGrantKey struct{ userID, role, areaID string }

func copyArea(a store.Area) store.Area {
	a.CreatedAt, a.UpdatedAt = stamp(a.CreatedAt), stamp(a.UpdatedAt)
	return a
}

// areaRef resolves an optional area reference as a uuid column would: ""
// is none, anything else must be an existing area.
func (s *Store) areaRef(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	aid, ok := canonicalUUID(id)
	if !ok {
		return "", store.ErrNotFound
	}
	if _, ok := s.areas[aid]; !ok {
		return "", store.ErrNotFound
	}
	return aid, nil
}

func (s *Store) CreateArea(ctx context.Context, a store.Area) error {
	return s.do(ctx, "create area", func(o op) error {
		id, ok := canonicalUUID(a.ID)
		if !ok {
			return fmt.Errorf("id %q is not a UUID", a.ID)
		}
		if _, taken := s.areas[id]; taken {
			return fmt.Errorf("id %q: %w", id, store.ErrConflict)
		}
		if _, taken := s.areaCodes[a.Code]; taken {
			return fmt.Errorf("code %q: %w", a.Code, store.ErrConflict)
		}
		parent, err := s.areaRef(a.ParentID)
		if err != nil {
			return fmt.Errorf("parent: %w", err)
		}
		a.ID, a.ParentID = id, parent
		put(o, s.areas, id, copyArea(a))
		put(o, s.areaCodes, a.Code, id)
		return nil
	})
}

func (s *Store) GetArea(ctx context.Context, id string) (store.Area, error) {
	var out store.Area
	err := s.do(ctx, "get area", func(op) error {
		aid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		a, ok := s.areas[aid]
		if !ok {
			return store.ErrNotFound
		}
		out = copyArea(a)
		return nil
	})
	return out, err
}

func (s *Store) GetAreaByCode(ctx context.Context, code string) (store.Area, error) {
	var out store.Area
	err := s.do(ctx, "get area by code", func(op) error {
		id, ok := s.areaCodes[code]
		if !ok {
			return store.ErrNotFound
		}
		out = copyArea(s.areas[id])
		return nil
	})
	return out, err
}

// UpdateArea checks for a cycle under the store lock, which every writer
// holds: the check and the write cannot interleave with another move.
func (s *Store) UpdateArea(ctx context.Context, a store.Area) error {
	return s.do(ctx, "update area", func(o op) error {
		id, ok := canonicalUUID(a.ID)
		if !ok {
			return store.ErrNotFound
		}
		cur, ok := s.areas[id]
		if !ok {
			return store.ErrNotFound
		}
		parent, err := s.areaRef(a.ParentID)
		if err != nil {
			return fmt.Errorf("parent: %w", err)
		}
		if parent != "" && slices.Contains(s.subtreeIDs(id), parent) {
			return fmt.Errorf("parent %q is the area or below it: %w", parent, store.ErrConflict)
		}
		cur.Name, cur.ParentID, cur.UpdatedAt = a.Name, parent, a.UpdatedAt
		put(o, s.areas, id, copyArea(cur))
		return nil
	})
}

func (s *Store) DeleteArea(ctx context.Context, id string) error {
	return s.do(ctx, "delete area", func(o op) error {
		aid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		a, ok := s.areas[aid]
		if !ok {
			return store.ErrNotFound
		}
		for _, other := range s.areas {
			if other.ParentID == aid {
				return fmt.Errorf("area %q has children: %w", a.Code, store.ErrConflict)
			}
		}
		for k := range s.areaMembers {
			if k.areaID == aid {
				return fmt.Errorf("area %q has members: %w", a.Code, store.ErrConflict)
			}
		}
		for k := range s.areaGrants {
			if k.areaID == aid {
				return fmt.Errorf("area %q has role grants: %w", a.Code, store.ErrConflict)
			}
		}
		del(o, s.areaCodes, a.Code)
		del(o, s.areas, aid)
		return nil
	})
}

func sortAreas(out []store.Area) {
	slices.SortFunc(out, func(a, b store.Area) int { return strings.Compare(a.Code, b.Code) })
}

func (s *Store) ListAreas(ctx context.Context) ([]store.Area, error) {
	out := []store.Area{}
	err := s.do(ctx, "list areas", func(op) error {
		for _, a := range s.areas {
			out = append(out, copyArea(a))
		}
		return nil
	})
	sortAreas(out)
	return out, err
}

// subtreeIDs returns id and the ids of every area below it, breadth first.
// Under the store lock; the tree has no cycle (UpdateArea keeps it so), and
// seen guards against one anyway, as UNION does in PostgreSQL's query.
func (s *Store) subtreeIDs(id string) []string {
	out := []string{id}
	for i := 0; i < len(out); i++ {
		for _, a := range s.areas {
			if a.ParentID == out[i] && !slices.Contains(out, a.ID) {
				out = append(out, a.ID)
			}
		}
	}
	return out
}

func (s *Store) ListSubtree(ctx context.Context, id string) ([]store.Area, error) {
	out := []store.Area{}
	err := s.do(ctx, "list subtree", func(op) error {
		aid, err := s.areaRef(id)
		if err != nil || aid == "" {
			return store.ErrNotFound
		}
		for _, sub := range s.subtreeIDs(aid) {
			out = append(out, copyArea(s.areas[sub]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortAreas(out)
	return out, nil
}

// LockAreas has nothing to take, as LockRoles: a transaction holds the
// store lock from BeginTx to its end.
func (s *Store) LockAreas(ctx context.Context) error {
	t := s.txFrom(ctx)
	switch {
	case t == nil:
		return fmt.Errorf("memory: lock areas: no transaction in context")
	case t.finished():
		return fmt.Errorf("memory: lock areas: %w", errTxFinished)
	}
	return nil
}

func (s *Store) userRef(id string) (string, error) {
	uid, ok := canonicalUUID(id)
	if !ok {
		return "", store.ErrNotFound
	}
	if _, ok := s.users[uid]; !ok {
		return "", store.ErrNotFound
	}
	return uid, nil
}

func (s *Store) AddAreaMember(ctx context.Context, areaID, userID string) error {
	return s.do(ctx, "add area member", func(o op) error {
		aid, err := s.areaRef(areaID)
		if err != nil || aid == "" {
			return store.ErrNotFound
		}
		uid, err := s.userRef(userID)
		if err != nil {
			return err
		}
		k := areaMemberKey{aid, uid}
		if _, ok := s.areaMembers[k]; !ok {
			put(o, s.areaMembers, k, false)
		}
		return nil
	})
}

func (s *Store) RemoveAreaMember(ctx context.Context, areaID, userID string) error {
	return s.do(ctx, "remove area member", func(o op) error {
		aid, ok1 := canonicalUUID(areaID)
		uid, ok2 := canonicalUUID(userID)
		k := areaMemberKey{aid, uid}
		if _, ok := s.areaMembers[k]; !ok1 || !ok2 || !ok {
			return store.ErrNotFound
		}
		del(o, s.areaMembers, k)
		return nil
	})
}

func (s *Store) SetDefaultArea(ctx context.Context, userID, areaID string) error {
	return s.do(ctx, "set default area", func(o op) error {
		uid, err := s.userRef(userID)
		if err != nil {
			return err
		}
		target := areaMemberKey{userID: uid}
		if areaID != "" {
			aid, ok := canonicalUUID(areaID)
			if !ok {
				return store.ErrNotFound
			}
			target.areaID = aid
			if _, ok := s.areaMembers[target]; !ok {
				return store.ErrNotFound
			}
		}
		for k, isDefault := range s.areaMembers {
			if k.userID == uid && isDefault != (k == target) {
				put(o, s.areaMembers, k, k == target)
			}
		}
		return nil
	})
}

func (s *Store) AreasOfUsers(ctx context.Context, userIDs []string) (map[string]store.UserAreas, error) {
	out := map[string]store.UserAreas{}
	err := s.do(ctx, "areas of users", func(op) error {
		want := map[string]string{} // canonical -> as given
		for _, id := range userIDs {
			if uid, ok := canonicalUUID(id); ok {
				want[uid] = id
			}
		}
		for k, isDefault := range s.areaMembers {
			id, ok := want[k.userID]
			if !ok {
				continue
			}
			ua := out[id]
			ua.Areas = append(ua.Areas, copyArea(s.areas[k.areaID]))
			if isDefault {
				ua.DefaultID = k.areaID
			}
			out[id] = ua
		}
		return nil
	})
	for id, ua := range out {
		sortAreas(ua.Areas)
		out[id] = ua
	}
	return out, err
}

// inAreas reports whether the user is a member of an area of ids.
func (s *Store) inAreas(userID string, ids []string) bool {
	for _, id := range ids {
		if _, ok := s.areaMembers[areaMemberKey{id, userID}]; ok {
			return true
		}
	}
	return false
}

// subtreesOf returns the ids of the areas in or below any of ids (ids that
// name no area reach nothing).
func (s *Store) subtreesOf(ids []string) []string {
	var out []string
	for _, id := range ids {
		aid, err := s.areaRef(id)
		if err != nil || aid == "" {
			continue
		}
		out = append(out, s.subtreeIDs(aid)...)
	}
	return out
}

func (s *Store) GrantAreaRole(ctx context.Context, g store.AreaRoleGrant) error {
	return s.do(ctx, "grant area role", func(o op) error {
		uid, err := s.userRef(g.UserID)
		if err != nil {
			return err
		}
		aid, err := s.areaRef(g.AreaID)
		if err != nil || aid == "" {
			return store.ErrNotFound
		}
		if _, ok := s.roles[g.Role]; !ok {
			return store.ErrNotFound
		}
		k := areaGrantKey{uid, g.Role, aid}
		if _, ok := s.areaGrants[k]; ok {
			return nil
		}
		g.UserID, g.AreaID, g.CreatedAt = uid, aid, stamp(g.CreatedAt)
		put(o, s.areaGrants, k, g)
		return nil
	})
}

func (s *Store) RevokeAreaRole(ctx context.Context, userID, role, areaID string) error {
	return s.do(ctx, "revoke area role", func(o op) error {
		uid, ok1 := canonicalUUID(userID)
		aid, ok2 := canonicalUUID(areaID)
		k := areaGrantKey{uid, role, aid}
		if _, ok := s.areaGrants[k]; !ok1 || !ok2 || !ok {
			return store.ErrNotFound
		}
		del(o, s.areaGrants, k)
		return nil
	})
}

func (s *Store) ListAreaRoleGrants(ctx context.Context, userID string) ([]store.AreaRoleGrant, error) {
	out := []store.AreaRoleGrant{}
	err := s.do(ctx, "list area role grants", func(op) error {
		uid, ok := canonicalUUID(userID)
		if !ok {
			return nil
		}
		for k, g := range s.areaGrants {
			if k.userID == uid {
				out = append(out, g)
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b store.AreaRoleGrant) int {
		return cmp.Or(strings.Compare(a.AreaID, b.AreaID), strings.Compare(a.Role, b.Role))
	})
	return out, err
}

// deleteAreasOf removes the user's memberships and grants, as ON DELETE
// CASCADE does.
func (s *Store) deleteAreasOf(o op, userID string) {
	for k := range s.areaMembers {
		if k.userID == userID {
			del(o, s.areaMembers, k)
		}
	}
	for k := range s.areaGrants {
		if k.userID == userID {
			del(o, s.areaGrants, k)
		}
	}
}
