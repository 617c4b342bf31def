package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// AddUsage upserts every counter in one statement, so a batch is atomic and
// costs one round trip whatever its size.
func (s *Store) AddUsage(ctx context.Context, counts []store.UsageCount) error {
	if len(counts) == 0 {
		return nil
	}
	days := make([]time.Time, len(counts))
	metrics := make([]string, len(counts))
	keys := make([]string, len(counts))
	ns := make([]int64, len(counts))
	for i, c := range counts {
		days[i], metrics[i], keys[i], ns[i] = store.UsageDay(c.Day), c.Metric, c.Key, c.Count
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO usage_daily (day, metric, key, count)
		SELECT (d AT TIME ZONE 'UTC')::date, m, k, sum(n) FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[]) AS u(d, m, k, n)
		GROUP BY 1, 2, 3
		ON CONFLICT (day, metric, key) DO UPDATE SET count = usage_daily.count + EXCLUDED.count`,
		days, metrics, keys, ns)
	if err != nil {
		return fmt.Errorf("postgres: add usage: %w", classify(err, nil))
	}
	return nil
}

// ListUsage reads metric's counters of [from, to) through the (metric, day)
// index.
func (s *Store) ListUsage(ctx context.Context, metric string, from, to time.Time) ([]store.UsageCount, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT day, metric, key, count FROM usage_daily
		WHERE metric = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND day < ($3::timestamptz AT TIME ZONE 'UTC')::date
		ORDER BY day, key`, metric, store.UsageDay(from), store.UsageDay(to))
	if err != nil {
		return nil, fmt.Errorf("postgres: list usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.UsageCount, error) {
		var c store.UsageCount
		err := r.Scan(&c.Day, &c.Metric, &c.Key, &c.Count)
		c.Day = store.UsageDay(time.Date(c.Day.Year(), c.Day.Month(), c.Day.Day(), 0, 0, 0, 0, time.UTC))
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list usage: %w", err)
	}
	return out, nil
}

// CountUsageKeys counts metric's distinct keys over [from, to).
func (s *Store) CountUsageKeys(ctx context.Context, metric string, from, to time.Time) (int, error) {
	var n int
	err := s.db(ctx).QueryRow(ctx, `SELECT count(DISTINCT key) FROM usage_daily
		WHERE metric = $1 AND day >= ($2::timestamptz AT TIME ZONE 'UTC')::date AND day < ($3::timestamptz AT TIME ZONE 'UTC')::date`,
		metric, store.UsageDay(from), store.UsageDay(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: count usage keys: %w", err)
	}
	return n, nil
}

// DeleteUsageBefore deletes a bounded batch of counters older than day.
func (s *Store) DeleteUsageBefore(ctx context.Context, day time.Time, limit int) (int, error) {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM usage_daily WHERE ctid IN (
		SELECT ctid FROM usage_daily WHERE day < ($1::timestamptz AT TIME ZONE 'UTC')::date LIMIT $2)`,
		store.UsageDay(day), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete usage: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
