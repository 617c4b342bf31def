package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// Areas (areas): the tree, memberships and role grants. Subtrees are read
// with a recursive CTE; UNION (not UNION ALL) stops at a row already seen,
// so even a cycle in stored data could not make it loop.

const areaColumns = `a.id, a.code, a.name, coalesce(a.parent_id::text, ''), a.created_at, a.updated_at`

// subtreeCTE is the recursive query of the areas in or below the areas
// whose ids are in the uuid[] placeholder %s.
const subtreeCTE = `WITH RECURSIVE sub(id) AS (
		SELECT id FROM areas WHERE id = ANY(%s)
		UNION
		SELECT c.id FROM areas c JOIN sub ON c.parent_id = sub.id)`

// areasLockKey names the advisory lock of the area tree ("gatearea" in
// ASCII), beside rolesLockKey.
const areasLockKey int64 = 0x6761746561726561

func scanArea(row pgx.Row) (store.Area, error) {
	var a store.Area
	if err := row.Scan(&a.ID, &a.Code, &a.Name, &a.ParentID, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return store.Area{}, err
	}
	a.CreatedAt, a.UpdatedAt = utc(a.CreatedAt), utc(a.UpdatedAt)
	return a, nil
}

func collectAreas(rows pgx.Rows) ([]store.Area, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Area, error) { return scanArea(r) })
	if out == nil {
		out = []store.Area{}
	}
	return out, err
}

func (s *Store) CreateArea(ctx context.Context, a store.Area) error {
	id, ok := parseUUID(a.ID)
	if !ok {
		return fmt.Errorf("postgres: create area %q: id %q is not a UUID", a.Code, a.ID)
	}
	parent, ok := optionalUUID(a.ParentID)
	if !ok {
		return fmt.Errorf("postgres: create area %q: parent: %w", a.Code, store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO areas (id, code, name, parent_id, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, a.Code, a.Name, parent, a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create area %q: %w", a.Code, classify(err, store.ErrNotFound))
	}
	return nil
}

func (s *Store) GetArea(ctx context.Context, id string) (store.Area, error) {
	aid, ok := parseUUID(id)
	if !ok {
		return store.Area{}, fmt.Errorf("postgres: get area %q: %w", id, store.ErrNotFound)
	}
	a, err := scanArea(s.db(ctx).QueryRow(ctx, `SELECT `+areaColumns+` FROM areas a WHERE a.id = $1`, aid))
	if err != nil {
		return store.Area{}, fmt.Errorf("postgres: get area %q: %w", id, classify(err, nil))
	}
	return a, nil
}

func (s *Store) GetAreaByCode(ctx context.Context, code string) (store.Area, error) {
	a, err := scanArea(s.db(ctx).QueryRow(ctx, `SELECT `+areaColumns+` FROM areas a WHERE a.code = $1`, code))
	if err != nil {
		return store.Area{}, fmt.Errorf("postgres: get area by code %q: %w", code, classify(err, nil))
	}
	return a, nil
}

// UpdateArea takes the tree's lock, then asks whether the new parent lies
// in the area's subtree, then writes: a concurrent move waits at the lock
// and, under READ COMMITTED, its check reads this one's commit.
func (s *Store) UpdateArea(ctx context.Context, a store.Area) error {
	id, ok := parseUUID(a.ID)
	if !ok {
		return fmt.Errorf("postgres: update area %q: %w", a.ID, store.ErrNotFound)
	}
	parent, ok := optionalUUID(a.ParentID)
	if !ok {
		return fmt.Errorf("postgres: update area %q: parent: %w", a.ID, store.ErrNotFound)
	}
	err := s.inTx(ctx, func(ctx context.Context) error {
		if err := s.LockAreas(ctx); err != nil {
			return err
		}
		if parent != nil {
			var cycle bool
			err := s.db(ctx).QueryRow(ctx, fmt.Sprintf(subtreeCTE, `ARRAY[$1::uuid]`)+
				` SELECT EXISTS (SELECT 1 FROM sub WHERE id = $2)`, id, parent).Scan(&cycle)
			if err != nil {
				return err
			}
			if cycle {
				return fmt.Errorf("parent %v is the area or below it: %w", parent, store.ErrConflict)
			}
		}
		tag, err := s.db(ctx).Exec(ctx, `UPDATE areas SET name = $2, parent_id = $3, updated_at = $4 WHERE id = $1`,
			id, a.Name, parent, a.UpdatedAt)
		if err != nil {
			return classify(err, store.ErrNotFound)
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: update area %q: %w", a.ID, err)
	}
	return nil
}

// DeleteArea relies on ON DELETE RESTRICT: a child, member or grant fails
// the foreign key, which is the contract's conflict.
func (s *Store) DeleteArea(ctx context.Context, id string) error {
	aid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: delete area %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM areas WHERE id = $1`, aid)
	if err != nil {
		return fmt.Errorf("postgres: delete area %q: %w", id, classify(err, store.ErrConflict))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete area %q: %w", id, store.ErrNotFound)
	}
	return nil
}

func (s *Store) ListAreas(ctx context.Context) ([]store.Area, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+areaColumns+` FROM areas a ORDER BY a.code COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list areas: %w", err)
	}
	out, err := collectAreas(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list areas: %w", err)
	}
	return out, nil
}

func (s *Store) ListSubtree(ctx context.Context, id string) ([]store.Area, error) {
	aid, ok := parseUUID(id)
	if !ok {
		return nil, fmt.Errorf("postgres: list subtree %q: %w", id, store.ErrNotFound)
	}
	rows, err := s.db(ctx).Query(ctx, fmt.Sprintf(subtreeCTE, `ARRAY[$1::uuid]`)+
		` SELECT `+areaColumns+` FROM areas a JOIN sub ON sub.id = a.id ORDER BY a.code COLLATE "C"`, aid)
	if err != nil {
		return nil, fmt.Errorf("postgres: list subtree %q: %w", id, err)
	}
	out, err := collectAreas(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list subtree %q: %w", id, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("postgres: list subtree %q: %w", id, store.ErrNotFound)
	}
	return out, nil
}

// LockAreas takes a transaction-level advisory lock, as LockRoles does.
func (s *Store) LockAreas(ctx context.Context) error {
	if _, ok := s.tx(ctx); !ok {
		return errors.New("postgres: lock areas: no transaction in context")
	}
	if _, err := s.db(ctx).Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, areasLockKey); err != nil {
		return fmt.Errorf("postgres: lock areas: %w", err)
	}
	return nil
}

func (s *Store) AddAreaMember(ctx context.Context, areaID, userID string) error {
	aid, ok1 := parseUUID(areaID)
	uid, ok2 := parseUUID(userID)
	if !ok1 || !ok2 {
		return fmt.Errorf("postgres: add area member: %w", store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO area_members (area_id, user_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, aid, uid)
	if err != nil {
		return fmt.Errorf("postgres: add area member: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

func (s *Store) RemoveAreaMember(ctx context.Context, areaID, userID string) error {
	aid, ok1 := parseUUID(areaID)
	uid, ok2 := parseUUID(userID)
	if !ok1 || !ok2 {
		return fmt.Errorf("postgres: remove area member: %w", store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM area_members WHERE area_id = $1 AND user_id = $2`, aid, uid)
	if err != nil {
		return fmt.Errorf("postgres: remove area member: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: remove area member: %w", store.ErrNotFound)
	}
	return nil
}

// SetDefaultArea moves the flag in one statement; the partial unique
// index sees the end state, one default at most.
func (s *Store) SetDefaultArea(ctx context.Context, userID, areaID string) error {
	uid, ok := parseUUID(userID)
	if !ok {
		return fmt.Errorf("postgres: set default area: %w", store.ErrNotFound)
	}
	err := s.inTx(ctx, func(ctx context.Context) error {
		if areaID == "" {
			var exists bool
			if err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, uid).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return store.ErrNotFound
			}
			_, err := s.db(ctx).Exec(ctx, `UPDATE area_members SET is_default = false WHERE user_id = $1 AND is_default`, uid)
			return err
		}
		aid, ok := parseUUID(areaID)
		if !ok {
			return store.ErrNotFound
		}
		var member bool
		if err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM area_members WHERE user_id = $1 AND area_id = $2)`,
			uid, aid).Scan(&member); err != nil {
			return err
		}
		if !member {
			return store.ErrNotFound
		}
		if _, err := s.db(ctx).Exec(ctx, `UPDATE area_members SET is_default = false WHERE user_id = $1 AND is_default AND area_id <> $2`, uid, aid); err != nil {
			return err
		}
		_, err := s.db(ctx).Exec(ctx, `UPDATE area_members SET is_default = true WHERE user_id = $1 AND area_id = $2`, uid, aid)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: set default area: %w", classify(err, nil))
	}
	return nil
}

func (s *Store) AreasOfUsers(ctx context.Context, userIDs []string) (map[string]store.UserAreas, error) {
	given := map[string]string{}
	var ids []string
	for _, id := range userIDs {
		if uid, ok := parseUUID(id); ok {
			given[uid] = id
			ids = append(ids, uid)
		}
	}
	out := map[string]store.UserAreas{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT m.user_id::text, m.is_default, `+areaColumns+`
		FROM area_members m JOIN areas a ON a.id = m.area_id
		WHERE m.user_id = ANY($1::uuid[]) ORDER BY m.user_id, a.code COLLATE "C"`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: areas of users: %w", err)
	}
	var userID string
	var isDefault bool
	var a store.Area
	_, err = pgx.ForEachRow(rows, []any{&userID, &isDefault, &a.ID, &a.Code, &a.Name, &a.ParentID, &a.CreatedAt, &a.UpdatedAt}, func() error {
		id := given[userID]
		ua := out[id]
		area := a
		area.CreatedAt, area.UpdatedAt = utc(a.CreatedAt), utc(a.UpdatedAt)
		ua.Areas = append(ua.Areas, area)
		if isDefault {
			ua.DefaultID = a.ID
		}
		out[id] = ua
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: areas of users: %w", err)
	}
	return out, nil
}

func (s *Store) GrantAreaRole(ctx context.Context, g store.AreaRoleGrant) error {
	uid, ok1 := parseUUID(g.UserID)
	aid, ok2 := parseUUID(g.AreaID)
	if !ok1 || !ok2 {
		return fmt.Errorf("postgres: grant area role: %w", store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO area_role_grants (user_id, role_name, area_id, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, uid, g.Role, aid, g.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres: grant area role: %w", classify(err, store.ErrNotFound))
	}
	return nil
}

func (s *Store) RevokeAreaRole(ctx context.Context, userID, role, areaID string) error {
	uid, ok1 := parseUUID(userID)
	aid, ok2 := parseUUID(areaID)
	if !ok1 || !ok2 {
		return fmt.Errorf("postgres: revoke area role: %w", store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM area_role_grants WHERE user_id = $1 AND role_name = $2 AND area_id = $3`,
		uid, role, aid)
	if err != nil {
		return fmt.Errorf("postgres: revoke area role: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: revoke area role: %w", store.ErrNotFound)
	}
	return nil
}

func (s *Store) ListAreaRoleGrants(ctx context.Context, userID string) ([]store.AreaRoleGrant, error) {
	out := []store.AreaRoleGrant{}
	uid, ok := parseUUID(userID)
	if !ok {
		return out, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT user_id::text, role_name, area_id::text, created_at
		FROM area_role_grants WHERE user_id = $1 ORDER BY area_id::text COLLATE "C", role_name COLLATE "C"`, uid)
	if err != nil {
		return nil, fmt.Errorf("postgres: list area role grants: %w", err)
	}
	var g store.AreaRoleGrant
	_, err = pgx.ForEachRow(rows, []any{&g.UserID, &g.Role, &g.AreaID, &g.CreatedAt}, func() error {
		g.CreatedAt = utc(g.CreatedAt)
		out = append(out, g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list area role grants: %w", err)
	}
	return out, nil
}

// areaUserCondition is the ListUsers condition "a member of an area in or
// below the areas of the uuid[] placeholder".
const areaUserCondition = `EXISTS (SELECT 1 FROM area_members am WHERE am.user_id = u.id AND am.area_id IN (` +
	`WITH RECURSIVE sub(id) AS (SELECT id FROM areas WHERE id = ANY($?::uuid[]) ` +
	`UNION SELECT c.id FROM areas c JOIN sub ON c.parent_id = sub.id) SELECT id FROM sub))`

// areaIDs parses ids for the uuid[] of areaUserCondition, leaving out what
// is no UUID (it names no area).
func areaIDs(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		if aid, ok := parseUUID(id); ok {
			out = append(out, aid)
		}
	}
	return out
}
