package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

const permissionColumns = `name, description, created_at, updated_at`

func scanPermission(row pgx.Row) (store.Permission, error) {
	var p store.Permission
	if err := row.Scan(&p.Name, &p.Description, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return store.Permission{}, err
	}
	p.CreatedAt, p.UpdatedAt = utc(p.CreatedAt), utc(p.UpdatedAt)
	return p, nil
}

// CreatePermission returns ErrConflict if the name is taken.
func (s *Store) CreatePermission(ctx context.Context, p store.Permission) error {
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO permissions (name, description, created_at, updated_at)
		VALUES ($1, $2, $3, $4)`, p.Name, p.Description, p.CreatedAt, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create permission %q: %w", p.Name, classify(err, nil))
	}
	return nil
}

// GetPermission returns ErrNotFound if there is no such permission.
func (s *Store) GetPermission(ctx context.Context, name string) (store.Permission, error) {
	p, err := scanPermission(s.db(ctx).QueryRow(ctx, `SELECT `+permissionColumns+` FROM permissions WHERE name = $1`, name))
	if err != nil {
		return store.Permission{}, fmt.Errorf("postgres: get permission %q: %w", name, classify(err, nil))
	}
	return p, nil
}

// UpdatePermission replaces the description and the update time.
func (s *Store) UpdatePermission(ctx context.Context, p store.Permission) error {
	tag, err := s.db(ctx).Exec(ctx, `UPDATE permissions SET description = $2, updated_at = $3 WHERE name = $1`,
		p.Name, p.Description, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: update permission %q: %w", p.Name, classify(err, nil))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: update permission %q: %w", p.Name, store.ErrNotFound)
	}
	return nil
}

// DeletePermission returns ErrNotFound if absent.
func (s *Store) DeletePermission(ctx context.Context, name string) error {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM permissions WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("postgres: delete permission %q: %w", name, classify(err, nil))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete permission %q: %w", name, store.ErrNotFound)
	}
	return nil
}

// ListPermissions returns every custom permission ordered by name.
func (s *Store) ListPermissions(ctx context.Context) ([]store.Permission, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+permissionColumns+` FROM permissions ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list permissions: %w", classify(err, nil))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Permission, error) { return scanPermission(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list permissions: %w", classify(err, nil))
	}
	return out, nil
}

// DeleteExpiredRoleGrants deletes the oldest expired grants first. SKIP
// LOCKED lets two janitors share the work rather than wait on each other.
func (s *Store) DeleteExpiredRoleGrants(ctx context.Context, now time.Time, limit int) ([]store.RoleGrant, error) {
	rows, err := s.db(ctx).Query(ctx, `
		WITH expired AS (
			SELECT user_id, role_name FROM user_roles
			WHERE expires_at IS NOT NULL AND expires_at <= $1
			ORDER BY expires_at, user_id, role_name
			LIMIT $2
			FOR UPDATE SKIP LOCKED
		)
		DELETE FROM user_roles r USING expired e
		WHERE r.user_id = e.user_id AND r.role_name = e.role_name
		RETURNING r.user_id::text, r.role_name, r.expires_at`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: delete expired role grants: %w", classify(err, nil))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.RoleGrant, error) {
		var g store.RoleGrant
		err := r.Scan(&g.UserID, &g.Role, &g.ExpiresAt)
		g.ExpiresAt = utc(g.ExpiresAt)
		return g, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: delete expired role grants: %w", classify(err, nil))
	}
	store.SortRoleGrants(out)
	return out, nil
}
