package postgres

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/internal/pgtest"
)

// TestDeleteExpired holds the janitor's batched delete to one contract on
// every table it sweeps: rows expiring at or before now go, at most limit
// per call; later rows stay; a limit of 0 deletes nothing; and the delete
// belongs to the transaction the context carries.
func TestDeleteExpired(t *testing.T) {
	ctx := t.Context()
	s, err := New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)

	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	userID := uuid.NewString()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO clients (id, name, created_at, updated_at) VALUES ('c', 'c', $1, $1)`, []any{now}},
		{`INSERT INTO users (id, username, email, status, created_at, updated_at) VALUES ($1, 'u', 'u@example.com', 'active', $2, $2)`, []any{userID, now}},
		{`INSERT INTO grants (id, client_id, subject, requested_at) VALUES ('g', 'c', 's', $1)`, []any{now}},
	} {
		if _, err := s.pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	insert := map[expiring]func(key string, exp time.Time) error{
		expiringJWTIDs: func(key string, exp time.Time) error {
			_, err := s.pool.Exec(ctx, `INSERT INTO jwt_ids (jti, expires_at) VALUES ($1, $2)`, key, exp)
			return err
		},
		expiringPARRequests: func(key string, exp time.Time) error {
			_, err := s.pool.Exec(ctx, `INSERT INTO par_requests (request_uri, client_id, expires_at) VALUES ($1, 'c', $2)`, key, exp)
			return err
		},
		expiringLoginSessions: func(key string, exp time.Time) error {
			_, err := s.pool.Exec(ctx, `INSERT INTO login_sessions (id, user_id, auth_time, expires_at, last_seen_at)
				VALUES ($1, $2, $3, $4, $3)`, key, userID, now.Add(-time.Hour), exp)
			return err
		},
		expiringWebAuthnCeremonies: func(key string, exp time.Time) error {
			_, err := s.pool.Exec(ctx, `INSERT INTO webauthn_ceremonies (id, kind, session_data, expires_at)
				VALUES ($1, 'login', '{}', $2)`, key, exp)
			return err
		},
		expiringDeviceCodes: func(key string, exp time.Time) error {
			_, err := s.pool.Exec(ctx, `INSERT INTO device_codes (signature, user_code, client_id, interval_seconds, requested_at, expires_at)
				VALUES ($1, $1, 'c', 5, $2, $3)`, key, now.Add(-time.Hour), exp)
			return err
		},
		expiringTokens: func(key string, exp time.Time) error {
			_, err := s.pool.Exec(ctx, `INSERT INTO oauth_tokens (kind, signature, request_id, requested_at, expires_at)
				VALUES ('access_token', $1, 'g', $2, $3)`, key, now.Add(-time.Hour), exp)
			return err
		},
	}
	count := func(t *testing.T, table expiring) int {
		t.Helper()
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+string(table)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for table, add := range insert {
		t.Run(string(table), func(t *testing.T) {
			// Three rows are due (one exactly at now), two are not.
			for i, exp := range []time.Time{now.Add(-time.Hour), now.Add(-time.Second), now, now.Add(time.Microsecond), now.Add(time.Hour)} {
				if err := add(fmt.Sprintf("%s-%d", table, i), exp); err != nil {
					t.Fatalf("insert: %v", err)
				}
			}
			del := func(t *testing.T, limit int, want int) {
				t.Helper()
				n, err := s.deleteExpired(ctx, table, string(table), now, limit)
				if err != nil || n != want {
					t.Fatalf("deleteExpired(limit %d) = %d, %v; want %d", limit, n, err, want)
				}
			}

			del(t, 0, 0)
			del(t, -1, 0)

			txCtx, err := s.BeginTx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := s.deleteExpired(txCtx, table, string(table), now, 10); err != nil || n != 3 {
				t.Fatalf("deleteExpired in a transaction = %d, %v; want 3", n, err)
			}
			if err := s.Rollback(txCtx); err != nil {
				t.Fatal(err)
			}
			if got := count(t, table); got != 5 {
				t.Fatalf("after a rolled-back delete: %d rows, want all 5", got)
			}

			del(t, 2, 2)
			del(t, 2, 1)
			del(t, 2, 0)
			if got := count(t, table); got != 2 {
				t.Errorf("%d rows left, want the 2 that expire after now", got)
			}
		})
	}
}
