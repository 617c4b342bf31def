package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// CountUsersByStatus states the effective status (store.User.EffectiveStatus)
// in SQL, as ListUsers' Status filter does, and groups by it: one pass over
// the users table.
func (s *Store) CountUsersByStatus(ctx context.Context, now time.Time) (map[store.UserStatus]int, error) {
	rows, err := s.db(ctx).Query(ctx, `
		SELECT CASE WHEN status IN ('pending', 'active') AND expires_at <= $1 THEN 'expired' ELSE status END,
			count(*)
		FROM users GROUP BY 1`, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: count users by status: %w", err)
	}
	out := map[store.UserStatus]int{}
	var (
		status string
		n      int
	)
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		out[store.UserStatus(status)] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: count users by status: %w", err)
	}
	return out, nil
}

// CountAccessRequests counts pending requests from the partial index of
// the review queue.
func (s *Store) CountAccessRequests(ctx context.Context, status store.AccessRequestStatus) (int, error) {
	var n int
	if err := s.db(ctx).QueryRow(ctx, `SELECT count(*) FROM access_requests WHERE status = $1`,
		string(status)).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count access requests: %w", err)
	}
	return n, nil
}

// CountAuditByDay reads only the range, through audit_log_at_idx, and
// buckets it by the UTC date.
func (s *Store) CountAuditByDay(ctx context.Context, action string, since, until time.Time) ([]store.DayCount, error) {
	rows, err := s.db(ctx).Query(ctx, `
		SELECT (at AT TIME ZONE 'UTC')::date AS day, count(*)
		FROM audit_log
		WHERE at >= $2 AND at < $3 AND action = $1
		GROUP BY day ORDER BY day`, action, since, until)
	if err != nil {
		return nil, fmt.Errorf("postgres: count audit entries by day: %w", err)
	}
	out := []store.DayCount{}
	var (
		day time.Time
		n   int
	)
	_, err = pgx.ForEachRow(rows, []any{&day, &n}, func() error {
		out = append(out, store.DayCount{Day: time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC), Count: n})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: count audit entries by day: %w", err)
	}
	return out, nil
}
