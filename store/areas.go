package store

import (
	"context"
	"time"
)

// This file holds organizational areas (areas): a tree of units, the
// users who are members of them, and roles granted within an area, which
// apply to the users of its subtree only (delegated administration).

// Area is one organizational unit.
type Area struct {
	ID string // UUID
	// Code is the area's unique slug, how people and the API name it.
	Code string
	Name string
	// ParentID is the parent area's id; "" for a root.
	ParentID  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// UserAreas are the areas a user is a member of, by code, and its default
// area's id ("" for none; when set, one of Areas).
type UserAreas struct {
	Areas     []Area
	DefaultID string
}

// AreaRoleGrant gives a user a role within an area: the role's
// permissions apply to the users of the area's subtree.
type AreaRoleGrant struct {
	UserID    string
	Role      string
	AreaID    string
	CreatedAt time.Time
}

// Areas stores the area tree, its memberships and its role grants.
type Areas interface {
	// CreateArea returns ErrConflict if the id or code is taken and
	// ErrNotFound if the parent does not exist.
	CreateArea(ctx context.Context, a Area) error
	// GetArea and GetAreaByCode return ErrNotFound if there is no such area.
	GetArea(ctx context.Context, id string) (Area, error)
	GetAreaByCode(ctx context.Context, code string) (Area, error)
	// UpdateArea replaces the name, the parent and UpdatedAt: a new parent
	// moves the whole subtree in one write. ErrNotFound if the area or the
	// new parent does not exist; ErrConflict, changing nothing, if the new
	// parent is the area itself or below it (a cycle). Concurrent moves
	// are ordered (as by LockAreas), so two that would together make a
	// cycle do not both succeed.
	UpdateArea(ctx context.Context, a Area) error
	// DeleteArea returns ErrNotFound if absent and ErrConflict if the area
	// has children, members or role grants: those are undone first.
	DeleteArea(ctx context.Context, id string) error
	// ListAreas returns every area ordered by code.
	ListAreas(ctx context.Context) ([]Area, error)
	// ListSubtree returns the area and every area below it, ordered by
	// code; ErrNotFound if the area does not exist.
	ListSubtree(ctx context.Context, id string) ([]Area, error)
	// LockAreas makes the transaction ctx carries the only one that may
	// change the tree until it ends (LockRoles' rule, for areas). Without
	// a transaction in ctx it is an error.
	LockAreas(ctx context.Context) error

	// AddAreaMember makes the user a member; ErrNotFound if the area or
	// user does not exist; no error if it is a member already.
	AddAreaMember(ctx context.Context, areaID, userID string) error
	// RemoveAreaMember returns ErrNotFound if the user is not a member. A
	// removed default area leaves the user with none.
	RemoveAreaMember(ctx context.Context, areaID, userID string) error
	// SetDefaultArea makes the area the user's default; "" clears it.
	// ErrNotFound if the user is not a member of the area (or, clearing,
	// does not exist).
	SetDefaultArea(ctx context.Context, userID, areaID string) error
	// AreasOfUsers maps each given user id that is a member of any area to
	// its areas (ordered by code) and default; ids of non-members are
	// absent. One call serves a whole page of users.
	AreasOfUsers(ctx context.Context, userIDs []string) (map[string]UserAreas, error)

	// GrantAreaRole stores g (CreatedAt as given); ErrNotFound if the
	// user, role or area does not exist; no error (and no change) if the
	// grant exists already.
	GrantAreaRole(ctx context.Context, g AreaRoleGrant) error
	// RevokeAreaRole returns ErrNotFound if there is no such grant.
	RevokeAreaRole(ctx context.Context, userID, role, areaID string) error
	// ListAreaRoleGrants returns the user's grants ordered by area id,
	// then role.
	ListAreaRoleGrants(ctx context.Context, userID string) ([]AreaRoleGrant, error)
}
