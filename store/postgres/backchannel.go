package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// ListLogoutTargets walks the session's grants through
// grants_login_session_id_idx.
func (s *Store) ListLogoutTargets(ctx context.Context, loginSessionID string) ([]store.LogoutTarget, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT DISTINCT g.client_id, g.subject
		FROM grants g JOIN clients c ON c.id = g.client_id
		WHERE g.login_session_id = $1 AND c.backchannel_logout_uri <> ''
		ORDER BY g.client_id, g.subject`, loginSessionID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list logout targets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.LogoutTarget, error) {
		var t store.LogoutTarget
		return t, r.Scan(&t.ClientID, &t.Subject)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list logout targets: %w", err)
	}
	if out == nil {
		out = []store.LogoutTarget{}
	}
	return out, nil
}

const logoutColumns = `id, client_id, subject, session_id, attempts, next_attempt_at, created_at, last_error`

func scanLogout(row pgx.Row) (store.Logout, error) {
	var l store.Logout
	if err := row.Scan(&l.ID, &l.ClientID, &l.Subject, &l.SessionID, &l.Attempts, &l.NextAttemptAt,
		&l.CreatedAt, &l.LastError); err != nil {
		return store.Logout{}, err
	}
	l.NextAttemptAt, l.CreatedAt = utc(l.NextAttemptAt), utc(l.CreatedAt)
	return l, nil
}

// EnqueueLogout inserts only while the queue holds fewer than maxRows rows;
// like EnqueueMail's, the bound may be passed by as many rows as there are
// concurrent writers.
func (s *Store) EnqueueLogout(ctx context.Context, l store.Logout, maxRows int) error {
	id, ok := parseUUID(l.ID)
	if !ok {
		return fmt.Errorf("postgres: enqueue logout: id %q is not a UUID", l.ID)
	}
	tag, err := s.db(ctx).Exec(ctx, `INSERT INTO backchannel_logouts (`+logoutColumns+`)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8
		WHERE $9 <= 0 OR (SELECT count(*) FROM (SELECT 1 FROM backchannel_logouts LIMIT $9) AS held) < $9`,
		id, l.ClientID, l.Subject, l.SessionID, l.Attempts, l.NextAttemptAt, l.CreatedAt, l.LastError, maxRows)
	if err != nil {
		return fmt.Errorf("postgres: enqueue logout: %w", classify(err, store.ErrNotFound))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: enqueue logout: %w", store.ErrLogoutQueueFull)
	}
	return nil
}

// ClaimLogouts locks the due rows it takes with SKIP LOCKED and moves them
// forward by the lease in the same statement, as ClaimMail does: no
// transaction is held open while a receiver is talked to.
func (s *Store) ClaimLogouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Logout, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db(ctx).Query(ctx, `WITH due AS (
			SELECT id FROM backchannel_logouts WHERE next_attempt_at <= $1
			ORDER BY next_attempt_at, id LIMIT $3
			FOR UPDATE SKIP LOCKED)
		UPDATE backchannel_logouts l SET attempts = l.attempts + 1, next_attempt_at = $2
		FROM due WHERE l.id = due.id
		RETURNING l.id, l.client_id, l.subject, l.session_id, l.attempts, l.next_attempt_at, l.created_at, l.last_error`,
		now, now.Add(lease), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim logouts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Logout, error) { return scanLogout(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: claim logouts: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Logout) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// RetryLogout returns ErrNotFound if the notification is gone.
func (s *Store) RetryLogout(ctx context.Context, id string, next time.Time, lastError string) error {
	uid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: retry logout: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "retry logout", `UPDATE backchannel_logouts SET next_attempt_at = $2, last_error = $3 WHERE id = $1`,
		uid, next, lastError)
}

// DeleteLogout returns ErrNotFound if absent.
func (s *Store) DeleteLogout(ctx context.Context, id string) error {
	uid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: delete logout: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "delete logout", `DELETE FROM backchannel_logouts WHERE id = $1`, uid)
}

// CountLogouts counts the queue, which max_rows keeps small.
func (s *Store) CountLogouts(ctx context.Context) (int, error) {
	var n int
	if err := s.db(ctx).QueryRow(ctx, `SELECT count(*) FROM backchannel_logouts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count logouts: %w", err)
	}
	return n, nil
}
