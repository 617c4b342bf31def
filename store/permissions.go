package store

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Permission is a permission an administrator defined beside the built-in
// ones (the Perm constants), so that roles can carry names relying parties
// check ("models:use"). Built-in permissions are not stored: they are the
// code's.
type Permission struct {
	Name        string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RoleGrant is one time-boxed assignment of a role to a user, as the
// janitor removes it.
type RoleGrant struct {
	UserID    string
	Role      string
	ExpiresAt time.Time
}

// Permissions stores custom permission definitions and removes expired
// role grants.
type Permissions interface {
	// CreatePermission returns ErrConflict if the name is taken.
	CreatePermission(ctx context.Context, p Permission) error
	// GetPermission returns ErrNotFound if there is no such permission.
	GetPermission(ctx context.Context, name string) (Permission, error)
	// UpdatePermission replaces the description and the update time;
	// ErrNotFound if absent.
	UpdatePermission(ctx context.Context, p Permission) error
	// DeletePermission returns ErrNotFound if absent. It does not look at
	// the roles that carry the name: the domain refuses that first.
	DeletePermission(ctx context.Context, name string) error
	// ListPermissions returns every custom permission ordered by name.
	ListPermissions(ctx context.Context) ([]Permission, error)
	// DeleteExpiredRoleGrants removes up to limit user role assignments
	// whose ExpiresAt is not after now and returns them (ordered by expiry,
	// then user and role), so that the caller can audit each in the same
	// transaction.
	DeleteExpiredRoleGrants(ctx context.Context, now time.Time, limit int) ([]RoleGrant, error)
}

// SortRoleGrants orders grants as DeleteExpiredRoleGrants returns them.
func SortRoleGrants(gs []RoleGrant) {
	slices.SortFunc(gs, func(a, b RoleGrant) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.Role, b.Role))
	})
}
