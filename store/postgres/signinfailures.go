package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// CountSignInFailures reads the address's row and the account's sum in one
// statement over the user's few rows (the primary key's prefix).
func (s *Store) CountSignInFailures(ctx context.Context, userID, address string, since time.Time) (store.SignInFailure, int, error) {
	id, ok := parseUUID(userID)
	if !ok {
		return store.SignInFailure{}, 0, nil
	}
	var (
		count    int
		first    *time.Time
		last     *time.Time
		accounts int
	)
	err := s.db(ctx).QueryRow(ctx, `
		SELECT coalesce(sum(count) FILTER (WHERE address = $2), 0),
			min(first_at) FILTER (WHERE address = $2),
			max(last_at) FILTER (WHERE address = $2),
			coalesce(sum(count), 0)
		FROM sign_in_failures WHERE user_id = $1 AND last_at >= $3`,
		id, address, since).Scan(&count, &first, &last, &accounts)
	if err != nil {
		return store.SignInFailure{}, 0, fmt.Errorf("postgres: count sign-in failures: %w", err)
	}
	if count == 0 {
		return store.SignInFailure{}, accounts, nil
	}
	return store.SignInFailure{UserID: id, Address: address, Count: count, FirstAt: utc(*first), LastAt: utc(*last)}, accounts, nil
}

// RecordSignInFailure counts in one upsert, so concurrent failures from one
// address queue on the row lock and the WHERE sees each one's count: no
// more than max are counted. A row left as it was (at max) is read from
// the statement's snapshot instead. The account-wide sum adds the other
// rows as that snapshot sees them: concurrent failures from other
// addresses may each miss one another, so the account-wide threshold can
// be passed by as many as arrive at the same instant.
func (s *Store) RecordSignInFailure(ctx context.Context, userID, address string, at, since time.Time, max int) (store.SignInAttempt, error) {
	id, ok := parseUUID(userID)
	if !ok {
		return store.SignInAttempt{}, fmt.Errorf("postgres: record sign-in failure %q: %w", userID, store.ErrNotFound)
	}
	out := store.SignInAttempt{Failure: store.SignInFailure{UserID: id, Address: address}}
	// A refused attempt (the upsert's WHERE false) reads the row with a
	// plain SELECT, which sees the statement's snapshot: when the row was
	// inserted by a transaction that committed after that snapshot was
	// taken, ON CONFLICT saw it but the SELECT does not, and no row comes
	// back. The next statement's snapshot has it, so the statement is
	// run again (READ COMMITTED takes a snapshot per statement, inside a
	// transaction too).
	var err error
	for attempt := 0; ; attempt++ {
		err = s.recordSignInFailure(ctx, id, address, at, since, max, &out)
		if !errors.Is(err, pgx.ErrNoRows) || attempt == 3 {
			break
		}
	}
	if err != nil {
		return store.SignInAttempt{}, fmt.Errorf("postgres: record sign-in failure %q: %w", userID, classify(err, store.ErrNotFound))
	}
	out.Failure.FirstAt, out.Failure.LastAt = utc(out.Failure.FirstAt), utc(out.Failure.LastAt)
	return out, nil
}

func (s *Store) recordSignInFailure(ctx context.Context, id, address string, at, since time.Time, max int, out *store.SignInAttempt) error {
	f := &out.Failure
	return s.db(ctx).QueryRow(ctx, `
		WITH r AS (
			INSERT INTO sign_in_failures AS f (user_id, address, count, first_at, last_at)
			VALUES ($1, $2, 1, $3, $3)
			ON CONFLICT (user_id, address) DO UPDATE SET
				count = CASE WHEN f.last_at < $4 THEN 1 ELSE f.count + 1 END,
				first_at = CASE WHEN f.last_at < $4 THEN excluded.first_at ELSE f.first_at END,
				last_at = CASE WHEN f.last_at < $4 THEN excluded.last_at ELSE greatest(f.last_at, excluded.last_at) END
			WHERE f.last_at < $4 OR $5 <= 0 OR f.count < $5
			RETURNING count, first_at, last_at
		), row AS (
			SELECT true AS counted, count, first_at, last_at FROM r
			UNION ALL
			SELECT false, o.count, o.first_at, o.last_at FROM sign_in_failures o
			WHERE o.user_id = $1 AND o.address = $2 AND NOT EXISTS (SELECT 1 FROM r)
		)
		SELECT row.counted, row.count, row.first_at, row.last_at, row.count + coalesce((
			SELECT sum(o.count) FROM sign_in_failures o
			WHERE o.user_id = $1 AND o.address <> $2 AND o.last_at >= $4), 0)
		FROM row`,
		id, address, at, since, max).Scan(&out.Counted, &f.Count, &f.FirstAt, &f.LastAt, &out.Account)
}

func (s *Store) ClearSignInFailures(ctx context.Context, userID, address string) error {
	id, ok := parseUUID(userID)
	if !ok {
		return nil
	}
	if _, err := s.db(ctx).Exec(ctx, `DELETE FROM sign_in_failures WHERE user_id = $1 AND address = $2`, id, address); err != nil {
		return fmt.Errorf("postgres: clear sign-in failures: %w", err)
	}
	return nil
}

func (s *Store) ClearUserSignInFailures(ctx context.Context, userID string) error {
	id, ok := parseUUID(userID)
	if !ok {
		return nil
	}
	if _, err := s.db(ctx).Exec(ctx, `DELETE FROM sign_in_failures WHERE user_id = $1`, id); err != nil {
		return fmt.Errorf("postgres: clear user sign-in failures: %w", err)
	}
	return nil
}

// DeleteSignInFailuresBefore is the janitor's bounded delete (see
// expiredBatch), on last_at rather than an expires_at: how long a row
// counts is the caller's window, not the row's.
func (s *Store) DeleteSignInFailuresBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM sign_in_failures WHERE ctid IN (
		SELECT ctid FROM sign_in_failures WHERE last_at < $1 ORDER BY last_at LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete old sign-in failures: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
