package memory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

func copyPermission(p store.Permission) store.Permission {
	p.CreatedAt, p.UpdatedAt = stamp(p.CreatedAt), stamp(p.UpdatedAt)
	return p
}

// CreatePermission returns ErrConflict if the name is taken.
func (s *Store) CreatePermission(ctx context.Context, p store.Permission) error {
	return s.do(ctx, "create permission", func(o op) error {
		if _, ok := s.permissions[p.Name]; ok {
			return store.ErrConflict
		}
		put(o, s.permissions, p.Name, copyPermission(p))
		return nil
	})
}

// GetPermission returns ErrNotFound if there is no such permission.
func (s *Store) GetPermission(ctx context.Context, name string) (store.Permission, error) {
	var out store.Permission
	err := s.do(ctx, "get permission", func(op) error {
		p, ok := s.permissions[name]
		if !ok {
			return store.ErrNotFound
		}
		out = p
		return nil
	})
	return out, err
}

// UpdatePermission replaces the description and the update time.
func (s *Store) UpdatePermission(ctx context.Context, p store.Permission) error {
	return s.do(ctx, "update permission", func(o op) error {
		cur, ok := s.permissions[p.Name]
		if !ok {
			return store.ErrNotFound
		}
		cur.Description, cur.UpdatedAt = p.Description, p.UpdatedAt
		put(o, s.permissions, p.Name, copyPermission(cur))
		return nil
	})
}

// DeletePermission returns ErrNotFound if absent.
func (s *Store) DeletePermission(ctx context.Context, name string) error {
	return s.do(ctx, "delete permission", func(o op) error {
		if _, ok := s.permissions[name]; !ok {
			return store.ErrNotFound
		}
		del(o, s.permissions, name)
		return nil
	})
}

// ListPermissions returns every custom permission ordered by name, in byte
// order as the "C" collation has it.
func (s *Store) ListPermissions(ctx context.Context) ([]store.Permission, error) {
	out := []store.Permission{}
	err := s.do(ctx, "list permissions", func(op) error {
		for _, p := range s.permissions {
			out = append(out, p)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b store.Permission) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}

// DeleteExpiredRoleGrants removes the oldest expired grants first.
func (s *Store) DeleteExpiredRoleGrants(ctx context.Context, now time.Time, limit int) ([]store.RoleGrant, error) {
	var out []store.RoleGrant
	err := s.do(ctx, "delete expired role grants", func(o op) error {
		var expired []store.RoleGrant
		for _, u := range s.users {
			for role, at := range u.RoleExpiry {
				if slices.Contains(u.Roles, role) && !now.Before(at) {
					expired = append(expired, store.RoleGrant{UserID: u.ID, Role: role, ExpiresAt: at})
				}
			}
		}
		store.SortRoleGrants(expired)
		if limit >= 0 && len(expired) > limit {
			expired = expired[:limit]
		}
		for _, g := range expired {
			u := copyUser(s.users[g.UserID])
			u.Roles = slices.DeleteFunc(u.Roles, func(r string) bool { return r == g.Role })
			delete(u.RoleExpiry, g.Role)
			put(o, s.users, u.ID, copyUser(u))
		}
		out = expired
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
