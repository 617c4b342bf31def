package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// groupWithRoles reads groups with their sorted roles in one round trip.
const groupWithRoles = `SELECT g.id, g.name, g.description, g.created_at, g.updated_at,
	ARRAY(SELECT r.role_name FROM group_roles r WHERE r.group_id = g.id ORDER BY r.role_name), g.external_id
	FROM groups g`

func scanGroup(row pgx.Row) (store.Group, error) {
	var g store.Group
	if err := row.Scan(&g.ID, &g.Name, &g.Description, &g.CreatedAt, &g.UpdatedAt, &g.Roles, &g.ExternalID); err != nil {
		return store.Group{}, err
	}
	g.Roles = list(g.Roles)
	g.CreatedAt, g.UpdatedAt = utc(g.CreatedAt), utc(g.UpdatedAt)
	return g, nil
}

func collectGroups(rows pgx.Rows) ([]store.Group, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Group, error) { return scanGroup(r) })
}

// CreateGroup inserts the group and its roles in one statement: a role that
// does not exist fails the foreign key and nothing is stored.
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	id, ok := parseUUID(g.ID)
	if !ok {
		return fmt.Errorf("postgres: create group %q: id %q is not a UUID", g.Name, g.ID)
	}
	_, err := s.db(ctx).Exec(ctx, `
		WITH g AS (
			INSERT INTO groups (id, name, description, created_at, updated_at, external_id)
			VALUES ($1, $2, $3, $4, $5, $7)
			RETURNING id
		)
		INSERT INTO group_roles (group_id, role_name)
		SELECT g.id, r.name FROM g CROSS JOIN (SELECT DISTINCT unnest($6::text[]) AS name) r`,
		id, g.Name, g.Description, g.CreatedAt, g.UpdatedAt, list(g.Roles), g.ExternalID)
	if err != nil {
		return fmt.Errorf("postgres: create group %q: %w", g.Name, classify(err, store.ErrNotFound))
	}
	return nil
}

// GetGroup returns ErrNotFound if there is no such group.
func (s *Store) GetGroup(ctx context.Context, id string) (store.Group, error) {
	gid, ok := parseUUID(id)
	if !ok {
		return store.Group{}, fmt.Errorf("postgres: get group %q: %w", id, store.ErrNotFound)
	}
	g, err := scanGroup(s.db(ctx).QueryRow(ctx, groupWithRoles+` WHERE g.id = $1`, gid))
	if err != nil {
		return store.Group{}, fmt.Errorf("postgres: get group %q: %w", id, classify(err, nil))
	}
	return g, nil
}

// UpdateGroup replaces name, description, roles and the update time. Like
// UpdateUser it locks the row first, so that two concurrent updates leave
// exactly the roles of the later one.
func (s *Store) UpdateGroup(ctx context.Context, g store.Group) error {
	id, ok := parseUUID(g.ID)
	if !ok {
		return fmt.Errorf("postgres: update group %q: %w", g.ID, store.ErrNotFound)
	}
	err := s.inTx(ctx, func(ctx context.Context) error {
		var locked bool
		if err := s.db(ctx).QueryRow(ctx, `SELECT true FROM groups WHERE id = $1 FOR UPDATE`, id).
			Scan(&locked); err != nil {
			return err
		}
		_, err := s.db(ctx).Exec(ctx, `
			WITH g AS (
				UPDATE groups SET name = $2, description = $3, updated_at = $4, external_id = $6
				WHERE id = $1
				RETURNING id
			), gone AS (
				DELETE FROM group_roles WHERE group_id = $1 AND role_name <> ALL($5::text[])
			)
			INSERT INTO group_roles (group_id, role_name)
			SELECT g.id, r.name FROM g CROSS JOIN (SELECT DISTINCT unnest($5::text[]) AS name) r
			ON CONFLICT DO NOTHING`,
			id, g.Name, g.Description, g.UpdatedAt, list(g.Roles), g.ExternalID)
		if err != nil {
			return err
		}
		// Its members' permissions may have changed (principalchanges.go).
		return s.principalChanged(ctx, store.ChangeGroup, id)
	})
	if err != nil {
		return fmt.Errorf("postgres: update group %q: %w", g.ID, classify(err, store.ErrNotFound))
	}
	return nil
}

// DeleteGroup removes the group; its roles and memberships go with it
// through ON DELETE CASCADE.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	gid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: delete group %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM groups WHERE id = $1`, gid)
	if err != nil {
		return fmt.Errorf("postgres: delete group %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete group %q: %w", id, store.ErrNotFound)
	}
	if err := s.principalChanged(ctx, store.ChangeGroup, gid); err != nil {
		return fmt.Errorf("postgres: delete group %q: %w", id, err)
	}
	return nil
}

// ListGroups returns every group ordered by name.
func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	rows, err := s.db(ctx).Query(ctx, groupWithRoles+` ORDER BY g.name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups: %w", err)
	}
	groups, err := collectGroups(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups: %w", err)
	}
	return groups, nil
}

// AddGroupMember is idempotent; a missing group or user fails a foreign key:
// ErrNotFound.
func (s *Store) AddGroupMember(ctx context.Context, groupID, userID string) error {
	gid, gok := parseUUID(groupID)
	uid, uok := parseUUID(userID)
	if !gok || !uok {
		return fmt.Errorf("postgres: add member %q to group %q: %w", userID, groupID, store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, gid, uid)
	if err == nil {
		err = s.principalChanged(ctx, store.ChangeUser, uid)
	}
	if err != nil {
		return fmt.Errorf("postgres: add member %q to group %q: %w", userID, groupID, classify(err, store.ErrNotFound))
	}
	return nil
}

// RemoveGroupMember returns ErrNotFound if the user is not a member.
func (s *Store) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	gid, gok := parseUUID(groupID)
	uid, uok := parseUUID(userID)
	if !gok || !uok {
		return fmt.Errorf("postgres: remove member %q from group %q: %w", userID, groupID, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM group_members WHERE group_id = $1 AND user_id = $2`, gid, uid)
	if err != nil {
		return fmt.Errorf("postgres: remove member %q from group %q: %w", userID, groupID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: remove member %q from group %q: %w", userID, groupID, store.ErrNotFound)
	}
	if err := s.principalChanged(ctx, store.ChangeUser, uid); err != nil {
		return fmt.Errorf("postgres: remove member %q from group %q: %w", userID, groupID, err)
	}
	return nil
}

// ListGroupMembers returns the member user ids, sorted; none for a group
// that does not exist.
func (s *Store) ListGroupMembers(ctx context.Context, groupID string) ([]string, error) {
	gid, ok := parseUUID(groupID)
	if !ok {
		return []string{}, nil
	}
	// uuid order is the order of the canonical text form, so sorting the
	// column sorts the strings as the memory store does.
	rows, err := s.db(ctx).Query(ctx, `SELECT user_id::text FROM group_members WHERE group_id = $1
		ORDER BY user_id`, gid)
	if err != nil {
		return nil, fmt.Errorf("postgres: list members of group %q: %w", groupID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: list members of group %q: %w", groupID, err)
	}
	return ids, nil
}

// ListUserGroups returns the user's groups by name; none for a user that
// does not exist.
func (s *Store) ListUserGroups(ctx context.Context, userID string) ([]store.Group, error) {
	uid, ok := parseUUID(userID)
	if !ok {
		return []store.Group{}, nil
	}
	rows, err := s.db(ctx).Query(ctx, groupWithRoles+`
		WHERE g.id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = $1)
		ORDER BY g.name`, uid)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups of user %q: %w", userID, err)
	}
	groups, err := collectGroups(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups of user %q: %w", userID, err)
	}
	return groups, nil
}

// GroupsOfUsers answers for a whole page of users in one query.
func (s *Store) GroupsOfUsers(ctx context.Context, userIDs []string) (map[string][]store.Group, error) {
	ids := make([]string, 0, len(userIDs))
	for _, id := range userIDs {
		if uid, ok := parseUUID(id); ok {
			ids = append(ids, uid)
		}
	}
	out := map[string][]store.Group{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.db(ctx).Query(ctx, `
		SELECT m.user_id::text, g.id, g.name, g.description, g.created_at, g.updated_at,
			ARRAY(SELECT r.role_name FROM group_roles r WHERE r.group_id = g.id ORDER BY r.role_name), g.external_id
		FROM group_members m JOIN groups g ON g.id = m.group_id
		WHERE m.user_id = ANY($1::uuid[]) ORDER BY m.user_id, g.name`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: groups of users: %w", err)
	}
	var uid string
	var g store.Group
	_, err = pgx.ForEachRow(rows, []any{&uid, &g.ID, &g.Name, &g.Description, &g.CreatedAt, &g.UpdatedAt, &g.Roles, &g.ExternalID}, func() error {
		g.Roles = list(g.Roles)
		g.CreatedAt, g.UpdatedAt = utc(g.CreatedAt), utc(g.UpdatedAt)
		out[uid] = append(out[uid], g)
		g = store.Group{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: groups of users: %w", err)
	}
	return out, nil
}
