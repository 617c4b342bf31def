package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

const roleColumns = `name, description, coalesce(parent, ''), permissions, suggested_goals, built_in,
	created_at, updated_at`

func scanRole(row pgx.Row) (store.Role, error) {
	var r store.Role
	if err := row.Scan(&r.Name, &r.Description, &r.Parent, &r.Permissions, &r.SuggestedGoals, &r.BuiltIn,
		&r.CreatedAt, &r.UpdatedAt); err != nil {
		return store.Role{}, err
	}
	r.Permissions, r.SuggestedGoals = list(r.Permissions), list(r.SuggestedGoals)
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	return r, nil
}

// CreateRole stores r as a custom role: only the migrations make built-in
// ones, so r.BuiltIn is ignored and a created role can always be deleted.
func (s *Store) CreateRole(ctx context.Context, r store.Role) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO roles (name, description, parent, permissions,
			suggested_goals, built_in, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, false, $6, $7)`,
		r.Name, r.Description, optionalText(r.Parent), list(r.Permissions), list(r.SuggestedGoals),
		r.CreatedAt, r.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create role %q: %w", r.Name, classify(err, store.ErrNotFound))
	}
	return nil
}

// GetRole returns ErrNotFound if there is no such role.
func (s *Store) GetRole(ctx context.Context, name string) (store.Role, error) {
	r, err := scanRole(s.db(ctx).QueryRow(ctx, `SELECT `+roleColumns+` FROM roles WHERE name = $1`, name))
	if err != nil {
		return store.Role{}, fmt.Errorf("postgres: get role %q: %w", name, classify(err, nil))
	}
	return r, nil
}

// UpdateRole replaces description, parent, permissions and goals (and the
// update time). An unknown parent fails the foreign key: ErrNotFound.
func (s *Store) UpdateRole(ctx context.Context, r store.Role) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE roles SET description = $2, parent = $3, permissions = $4,
			suggested_goals = $5, updated_at = $6
		WHERE name = $1`,
		r.Name, r.Description, optionalText(r.Parent), list(r.Permissions), list(r.SuggestedGoals), r.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: update role %q: %w", r.Name, classify(err, store.ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update role %q: %w", r.Name, store.ErrNotFound)
	}
	return nil
}

// DeleteRole refuses built-in roles and roles a client (service account)
// holds; the RESTRICT foreign keys refuse roles that are another's parent,
// assigned to a user, carried by a group or asked for by a pending access
// request (all ErrConflict); decided requests keep the name only as history. All of it is decided in one statement, so a role cannot
// be assigned between the check and the delete.
func (s *Store) DeleteRole(ctx context.Context, name string) error {
	var builtIn, heldByClient bool
	var deleted int
	err := s.db(ctx).QueryRow(ctx, `
		WITH r AS (
			SELECT name, built_in, EXISTS (SELECT 1 FROM clients c WHERE roles.name = ANY(c.roles)) AS held
			FROM roles WHERE name = $1
		), d AS (
			DELETE FROM roles WHERE name IN (SELECT name FROM r WHERE NOT built_in AND NOT held)
			RETURNING 1
		)
		SELECT r.built_in, r.held, (SELECT count(*) FROM d) FROM r`, name).Scan(&builtIn, &heldByClient, &deleted)
	switch {
	case err != nil:
		return fmt.Errorf("postgres: delete role %q: %w", name, classify(err, store.ErrConflict))
	case builtIn:
		return fmt.Errorf("postgres: delete role %q: built in: %w", name, store.ErrConflict)
	case heldByClient:
		return fmt.Errorf("postgres: delete role %q: held by a client: %w", name, store.ErrConflict)
	case deleted == 0:
		return fmt.Errorf("postgres: delete role %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// ListRoles returns every role ordered by name.
func (s *Store) ListRoles(ctx context.Context) ([]store.Role, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+roleColumns+` FROM roles ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list roles: %w", err)
	}
	roles, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Role, error) { return scanRole(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list roles: %w", err)
	}
	return roles, nil
}

// rolesLockKey names the advisory lock of the role hierarchy ("gaterole"
// in ASCII); goose's migration lock uses another key.
const rolesLockKey int64 = 0x67617465726f6c65

// LockRoles takes a transaction-level advisory lock, released by the
// commit or rollback. Under READ COMMITTED each statement after it sees
// what the previous holder committed, so the caller's ListRoles reads the
// hierarchy as it will be when its own write lands.
func (s *Store) LockRoles(ctx context.Context) error {
	if _, ok := s.tx(ctx); !ok {
		return errors.New("postgres: lock roles: no transaction in context")
	}
	if _, err := s.db(ctx).Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, rolesLockKey); err != nil {
		return fmt.Errorf("postgres: lock roles: %w", err)
	}
	return nil
}
