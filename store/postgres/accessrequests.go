package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// defaultRequestLimit is ListAccessRequests' page size when the filter names
// none.
const defaultRequestLimit = 100

const accessRequestColumns = `id, user_id, requested_role, purpose, status, granted_role, decided_by,
	comment, created_at, decided_at, client_id`

func scanAccessRequest(row pgx.Row) (store.AccessRequest, error) {
	var r store.AccessRequest
	var status string
	var clientID *string
	if err := row.Scan(&r.ID, &r.UserID, &r.RequestedRole, &r.Purpose, &status, &r.GrantedRole, &r.DecidedBy,
		&r.Comment, &r.CreatedAt, &r.DecidedAt, &clientID); err != nil {
		return store.AccessRequest{}, err
	}
	if clientID != nil {
		r.ClientID = *clientID
	}
	r.Status = store.AccessRequestStatus(status)
	r.CreatedAt, r.DecidedAt = utc(r.CreatedAt), utcPtr(r.DecidedAt)
	return r, nil
}

// CreateAccessRequest stores a new, pending request (it reaches a final
// state only through DecideAccessRequest, so the role is always checked). A
// missing user or role fails a foreign key (ErrNotFound); a second pending
// request of the user for the same client (or none) fails the partial
// unique index access_requests_one_pending_per_client_key (ErrConflict), so
// two concurrent submissions cannot both succeed. ClientID "" is NULL.
func (s *Store) CreateAccessRequest(ctx context.Context, r store.AccessRequest) error {
	if r.Status != store.RequestPending {
		return fmt.Errorf("postgres: create access request: status %q: a new request is pending", r.Status)
	}
	id, ok := parseUUID(r.ID)
	if !ok {
		return fmt.Errorf("postgres: create access request: id %q is not a UUID", r.ID)
	}
	userID, ok := parseUUID(r.UserID)
	if !ok {
		return fmt.Errorf("postgres: create access request: user %q: %w", r.UserID, store.ErrNotFound)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO access_requests (`+accessRequestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		id, userID, r.RequestedRole, r.Purpose, string(r.Status), r.GrantedRole, r.DecidedBy, r.Comment,
		r.CreatedAt, r.DecidedAt, nullText(r.ClientID))
	if err != nil {
		return fmt.Errorf("postgres: create access request of user %q: %w", r.UserID, classify(err, store.ErrNotFound))
	}
	return nil
}

// GetAccessRequest returns ErrNotFound if there is no such request.
func (s *Store) GetAccessRequest(ctx context.Context, id string) (store.AccessRequest, error) {
	rid, ok := parseUUID(id)
	if !ok {
		return store.AccessRequest{}, fmt.Errorf("postgres: get access request %q: %w", id, store.ErrNotFound)
	}
	r, err := scanAccessRequest(s.db(ctx).QueryRow(ctx, `SELECT `+accessRequestColumns+`
		FROM access_requests WHERE id = $1`, rid))
	if err != nil {
		return store.AccessRequest{}, fmt.Errorf("postgres: get access request %q: %w", id, classify(err, nil))
	}
	return r, nil
}

// ListAccessRequests pages newest first along the (created_at, id) index.
// The cursor is a request id; its position is read in the same statement,
// and a cursor naming no request yields an empty page.
func (s *Store) ListAccessRequests(ctx context.Context, f store.AccessRequestFilter) ([]store.AccessRequest, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, strings.ReplaceAll(cond, "$?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Status != "" {
		add(`status = $?`, string(f.Status))
	}
	if f.UserID != "" {
		userID, ok := parseUUID(f.UserID)
		if !ok {
			return []store.AccessRequest{}, nil
		}
		add(`user_id = $?`, userID)
	}
	if f.Before != "" {
		before, ok := parseUUID(f.Before)
		if !ok {
			return []store.AccessRequest{}, nil
		}
		// A row comparison against parameters (the sub-select is an init
		// plan) can start the index scan at the cursor.
		add(`(created_at, id) < ((SELECT c.created_at FROM access_requests c WHERE c.id = $?), $?::uuid)`, before)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultRequestLimit
	}
	args = append(args, limit)
	sql := `SELECT ` + accessRequestColumns + ` FROM access_requests`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sql += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))

	rows, err := s.db(ctx).Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list access requests: %w", err)
	}
	requests, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AccessRequest, error) {
		return scanAccessRequest(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list access requests: %w", err)
	}
	return requests, nil
}

// DecideAccessRequest is one conditional UPDATE: of several concurrent
// decisions, the first takes the row lock and moves the request out of
// pending; the others then re-check the condition against the committed row,
// match nothing, and are told apart (gone or decided) by a second look.
func (s *Store) DecideAccessRequest(ctx context.Context, id string, status store.AccessRequestStatus, grantedRole, decidedBy, comment string, at time.Time) (store.AccessRequest, error) {
	switch status {
	case store.RequestApproved, store.RequestDenied, store.RequestCancelled:
	default:
		return store.AccessRequest{}, fmt.Errorf("postgres: decide access request %q: %q is not a decision", id, status)
	}
	rid, ok := parseUUID(id)
	if !ok {
		return store.AccessRequest{}, fmt.Errorf("postgres: decide access request %q: %w", id, store.ErrNotFound)
	}
	r, err := scanAccessRequest(s.db(ctx).QueryRow(ctx, `UPDATE access_requests
		SET status = $2, granted_role = $3, decided_by = $4, comment = $5, decided_at = $6
		WHERE id = $1 AND status = 'pending'
		RETURNING `+accessRequestColumns,
		rid, string(status), grantedRole, decidedBy, comment, at))
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.AccessRequest{}, fmt.Errorf("postgres: decide access request %q: %w", id, err)
	}
	var exists bool
	if err := s.db(ctx).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM access_requests WHERE id = $1)`, rid).
		Scan(&exists); err != nil {
		return store.AccessRequest{}, fmt.Errorf("postgres: decide access request %q: %w", id, err)
	}
	if !exists {
		return store.AccessRequest{}, fmt.Errorf("postgres: decide access request %q: %w", id, store.ErrNotFound)
	}
	return store.AccessRequest{}, fmt.Errorf("postgres: decide access request %q: decided already: %w", id, store.ErrConflict)
}

// nullText stores "" as NULL: a column where NULL means "none".
func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
