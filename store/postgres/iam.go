package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// RecordLoginSuccess touches only the sign-in fields, so that an admin's
// concurrent edit of the same user is not overwritten. UpdatedAt stays: a
// sign-in is not an edit of the record.
func (s *Store) RecordLoginSuccess(ctx context.Context, userID string, at time.Time, newHash string) error {
	id, ok := parseUUID(userID)
	if !ok {
		return fmt.Errorf("postgres: record login success %q: %w", userID, store.ErrNotFound)
	}
	tag, err := s.db(ctx).Exec(ctx, `UPDATE users SET last_login_at = $2, failed_logins = 0, locked_until = NULL,
			password_hash = CASE WHEN $3 = '' THEN password_hash ELSE $3 END
		WHERE id = $1`, id, at, newHash)
	if err != nil {
		return fmt.Errorf("postgres: record login success %q: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: record login success %q: %w", userID, store.ErrNotFound)
	}
	return nil
}

// RecordLoginFailure counts the failure in one UPDATE: every CASE reads the
// row as it was before the statement, and concurrent failures queue on the
// row lock, so each one counts and exactly one of them sets the lock.
//
// A maxFailures of 0 or less never locks (lockout switched off).
func (s *Store) RecordLoginFailure(ctx context.Context, userID string, at time.Time, maxFailures int, lockFor time.Duration) (store.User, error) {
	id, ok := parseUUID(userID)
	if !ok {
		return store.User{}, fmt.Errorf("postgres: record login failure %q: %w", userID, store.ErrNotFound)
	}
	u, err := scanUser(s.db(ctx).QueryRow(ctx, `
		WITH u AS (
			UPDATE users SET
				failed_logins = CASE WHEN $2 > 0 AND failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
				locked_until = CASE WHEN $2 > 0 AND failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
			WHERE id = $1
			RETURNING *
		)
		SELECT `+userColumns+`, `+userGrants+`
		FROM u`,
		id, maxFailures, at.Add(lockFor)), true)
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: record login failure %q: %w", userID, classify(err, nil))
	}
	return u, nil
}
