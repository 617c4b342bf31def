package migrations_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/store"
)

func TestUpConcurrentlyAppliesEachMigrationOnce(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewEmptyDatabase(t)

	const instances = 4
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() { errs[i] = migrations.Up(ctx, dbURL) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Up: %v", i, err)
		}
	}

	conn := connect(t, dbURL)
	rows, err := conn.Query(ctx, `
		SELECT version_id, count(*) FROM goose_db_version
		WHERE version_id > 0 GROUP BY version_id ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	type applied struct{ version, times int64 }
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (applied, error) {
		var a applied
		return a, r.Scan(&a.version, &a.times)
	})
	if err != nil {
		t.Fatal(err)
	}
	status, err := migrations.Status(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(status) {
		t.Fatalf("goose_db_version has %d versions %v, want the %d embedded ones", len(got), got, len(status))
	}
	for i, a := range got {
		if a.version != status[i].Version || a.times != 1 {
			t.Errorf("version row %d = %+v, want version %d applied once", i, a, status[i].Version)
		}
	}

	// Running again is a no-op, not an error.
	if err := migrations.Up(ctx, dbURL); err != nil {
		t.Errorf("second Up: %v", err)
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewEmptyDatabase(t)

	before, err := migrations.Status(ctx, dbURL)
	if err != nil {
		t.Fatalf("Status before Up: %v", err)
	}
	if len(before) == 0 {
		t.Fatal("Status lists no migrations: nothing is embedded")
	}
	first := before[0]
	if first.Version != 1 || first.Name != "00001_initial.sql" || first.Applied || !first.AppliedAt.IsZero() {
		t.Errorf("before Up, first migration = %+v, want version 1 00001_initial.sql pending", first)
	}

	if err := migrations.Up(ctx, dbURL); err != nil {
		t.Fatalf("Up: %v", err)
	}
	after, err := migrations.Status(ctx, dbURL)
	if err != nil {
		t.Fatalf("Status after Up: %v", err)
	}
	if len(after) != len(before) {
		t.Fatalf("Status lists %d migrations after Up, %d before", len(after), len(before))
	}
	for _, m := range after {
		if !m.Applied || m.AppliedAt.IsZero() || m.AppliedAt.Location().String() != "UTC" {
			t.Errorf("after Up: %+v, want applied with a UTC time", m)
		}
	}
	if !slices.IsSortedFunc(after, func(a, b migrations.Migration) int { return int(a.Version - b.Version) }) {
		t.Errorf("Status is not in version order: %+v", after)
	}
}

func TestUpUnreachableDatabase(t *testing.T) {
	err := migrations.Up(context.Background(), "postgres://nobody:secret-password@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Up on an unreachable server succeeded")
	}
	if got := err.Error(); strings.Contains(got, "secret-password") {
		t.Errorf("error leaks the password: %s", got)
	}
}

func TestSeededRolesMatchBuiltInRoles(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, pgtest.NewDatabase(t))
	rows, err := conn.Query(ctx, `
		SELECT name, description, coalesce(parent, ''), permissions, suggested_goals, built_in
		FROM roles ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Role, error) {
		var role store.Role
		err := r.Scan(&role.Name, &role.Description, &role.Parent, &role.Permissions, &role.SuggestedGoals, &role.BuiltIn)
		return role, err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := store.BuiltInRoles()
	slices.SortFunc(want, func(a, b store.Role) int { return strings.Compare(a.Name, b.Name) })
	if len(got) != len(want) {
		t.Fatalf("seeded %d roles, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Description != w.Description || g.Parent != w.Parent ||
			!slices.Equal(g.Permissions, w.Permissions) || len(g.SuggestedGoals) != len(w.SuggestedGoals) || !g.BuiltIn {
			t.Errorf("seeded role\n got %+v\nwant %+v", g, w)
		}
	}
}

// TestConstraints checks that the database itself enforces the rules the
// store contract relies on, whatever code writes to it.
func TestConstraints(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, pgtest.NewDatabase(t))
	mustExec(t, conn, `INSERT INTO clients (id, created_at, updated_at) VALUES ('web', now(), now())`)
	mustExec(t, conn, `INSERT INTO users (id, username, email, status, created_at, updated_at)
		VALUES ('00000000-0000-0000-0000-000000000001', 'alice', 'alice@example.com', 'active', now(), now())`)
	mustExec(t, conn, `INSERT INTO signing_keys (id, algorithm, state, private_key, public_key, created_at)
		VALUES ('k1', 'RS256', 'active', '\x00', '{}', now()), ('k2', 'RS256', 'next', '\x00', '{}', now())`)

	tests := []struct {
		name     string
		sql      string
		wantCode string
	}{
		{"username unique ignoring case", `INSERT INTO users (id, username, email, status, created_at, updated_at)
			VALUES (gen_random_uuid(), 'ALICE', 'other@example.com', 'active', now(), now())`, "23505"},
		{"email unique ignoring case", `INSERT INTO users (id, username, email, status, created_at, updated_at)
			VALUES (gen_random_uuid(), 'bob', 'Alice@Example.com', 'active', now(), now())`, "23505"},
		{"user status enumerated", `INSERT INTO users (id, username, email, status, created_at, updated_at)
			VALUES (gen_random_uuid(), 'carol', 'carol@example.com', 'sleeping', now(), now())`, "23514"},
		{"client id unique", `INSERT INTO clients (id, created_at, updated_at) VALUES ('web', now(), now())`, "23505"},
		{"second active key", `INSERT INTO signing_keys (id, algorithm, state, private_key, public_key, created_at)
			VALUES ('k3', 'RS256', 'active', '\x00', '{}', now())`, "23505"},
		{"second next key", `INSERT INTO signing_keys (id, algorithm, state, private_key, public_key, created_at)
			VALUES ('k3', 'RS256', 'next', '\x00', '{}', now())`, "23505"},
		{"second active ES256 key", `WITH a AS (INSERT INTO signing_keys (id, algorithm, state, private_key, public_key, created_at)
			VALUES ('e1', 'ES256', 'active', '\x00', '{}', now()))
			INSERT INTO signing_keys (id, algorithm, state, private_key, public_key, created_at)
			VALUES ('e2', 'ES256', 'active', '\x00', '{}', now())`, "23505"},
		{"client id token alg enumerated", `UPDATE clients SET id_token_signed_response_alg = 'HS256' WHERE id = 'web'`, "23514"},
		{"dpop proof digest is 32 bytes", `INSERT INTO dpop_proofs (jti_hash, expires_at) VALUES ('\x00', now())`, "23514"},
		{"dpop proof once", `INSERT INTO dpop_proofs (jti_hash, expires_at) VALUES (sha256('p'), now()), (sha256('p'), now())`, "23505"},
		{"key state enumerated", `INSERT INTO signing_keys (id, algorithm, state, private_key, public_key, created_at)
			VALUES ('k3', 'RS256', 'spare', '\x00', '{}', now())`, "23514"},
		{"grant needs its client", `INSERT INTO grants (id, client_id, subject, requested_at) VALUES ('r1', 'nope', 's', now())`, "23503"},
		{"token needs its grant", `INSERT INTO oauth_tokens (kind, signature, request_id, requested_at, expires_at)
			VALUES ('access_token', 'sig', 'nope', now(), now())`, "23503"},
		{"token kind enumerated", `WITH g AS (INSERT INTO grants (id, client_id, subject, requested_at) VALUES ('r2', 'web', 's', now()))
			INSERT INTO oauth_tokens (kind, signature, request_id, requested_at, expires_at)
			VALUES ('magic', 'sig', 'r2', now(), now())`, "23514"},
		{"user role must exist", `INSERT INTO user_roles (user_id, role_name) VALUES ('00000000-0000-0000-0000-000000000001', 'nope')`, "23503"},
		{"assigned role cannot go", `WITH a AS (INSERT INTO user_roles (user_id, role_name) VALUES ('00000000-0000-0000-0000-000000000001', 'viewer'))
			DELETE FROM roles WHERE name = 'viewer'`, "23503"},
		{"parent role cannot go", `DELETE FROM roles WHERE name = 'manager'`, "23503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx) //nolint:errcheck
			_, err = tx.Exec(ctx, tc.sql)
			if code := sqlState(err); code != tc.wantCode {
				t.Errorf("SQLSTATE = %q (err %v), want %s", code, err, tc.wantCode)
			}
		})
	}

	// A key may leave the active state and another take it.
	mustExec(t, conn, `UPDATE signing_keys SET state = 'retired' WHERE id = 'k1'`)
	mustExec(t, conn, `UPDATE signing_keys SET state = 'active' WHERE id = 'k2'`)
	mustExec(t, conn, `INSERT INTO signing_keys (id, algorithm, state, private_key, public_key, created_at)
		VALUES ('k3', 'RS256', 'next', '\x00', '{}', now()), ('k4', 'RS256', 'retired', '\x00', '{}', now())`)
	// Each algorithm has an active and a next key of its own, side by side.
	mustExec(t, conn, `INSERT INTO signing_keys (id, algorithm, state, private_key, public_key, created_at)
		VALUES ('e3', 'ES256', 'active', '\x00', '{}', now()), ('e4', 'ES256', 'next', '\x00', '{}', now())`)
	mustExec(t, conn, `UPDATE clients SET id_token_signed_response_alg = 'ES256' WHERE id = 'web'`)
}

func TestCascades(t *testing.T) {
	conn := connect(t, pgtest.NewDatabase(t))
	const uid = "00000000-0000-0000-0000-000000000001"
	mustExec(t, conn, `INSERT INTO clients (id, created_at, updated_at) VALUES ('web', now(), now()), ('m2m', now(), now())`)
	mustExec(t, conn, `INSERT INTO users (id, username, email, status, created_at, updated_at)
		VALUES ('`+uid+`', 'alice', 'alice@example.com', 'active', now(), now())`)
	mustExec(t, conn, `INSERT INTO user_roles VALUES ('`+uid+`', 'user')`)
	mustExec(t, conn, `INSERT INTO login_sessions (id, user_id, auth_time, expires_at, last_seen_at)
		VALUES ('s1', '`+uid+`', now(), now(), now())`)
	mustExec(t, conn, `INSERT INTO grants (id, client_id, subject, user_id, login_session_id, requested_at)
		VALUES ('g-user', 'web', 'alice', '`+uid+`', 's1', now()), ('g-m2m', 'm2m', 'm2m', NULL, NULL, now())`)
	mustExec(t, conn, `INSERT INTO oauth_tokens (kind, signature, request_id, requested_at, expires_at)
		VALUES ('access_token', 'a1', 'g-user', now(), now()), ('access_token', 'a2', 'g-m2m', now(), now())`)
	mustExec(t, conn, `INSERT INTO consents (user_id, client_id, granted_at) VALUES ('`+uid+`', 'web', now())`)
	mustExec(t, conn, `INSERT INTO par_requests (request_uri, client_id, expires_at) VALUES ('urn:1', 'web', now())`)

	// Ending the browser session keeps the grant but unties it.
	mustExec(t, conn, `DELETE FROM login_sessions WHERE id = 's1'`)
	if n := count(t, conn, `SELECT count(*) FROM grants WHERE id = 'g-user' AND login_session_id IS NULL`); n != 1 {
		t.Errorf("after deleting the session, %d untied grants, want 1", n)
	}

	mustExec(t, conn, `DELETE FROM users WHERE id = '`+uid+`'`)
	for _, q := range []string{
		`SELECT count(*) FROM grants WHERE id = 'g-user'`,
		`SELECT count(*) FROM oauth_tokens WHERE signature = 'a1'`,
		`SELECT count(*) FROM consents`,
		`SELECT count(*) FROM user_roles`,
	} {
		if n := count(t, conn, q); n != 0 {
			t.Errorf("after deleting the user, %s = %d, want 0", q, n)
		}
	}

	mustExec(t, conn, `DELETE FROM clients WHERE id = 'web'`)
	if n := count(t, conn, `SELECT count(*) FROM par_requests`); n != 0 {
		t.Errorf("after deleting the client, %d PAR requests left", n)
	}
	mustExec(t, conn, `DELETE FROM clients WHERE id = 'm2m'`)
	if n := count(t, conn, `SELECT count(*) FROM grants`) + count(t, conn, `SELECT count(*) FROM oauth_tokens`); n != 0 {
		t.Errorf("after deleting the clients, %d grants and tokens left", n)
	}
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// 00033 turns the stored requests of tokens into bytes: a row written
// before it keeps its JSON, as text, for the provider to read.
func TestTokenRequestsBecomeBytes(t *testing.T) {
	dbURL := pgtest.NewEmptyDatabase(t)
	if err := migrations.UpTo(t.Context(), dbURL, 32); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dbURL)
	const request = `{"id": "g1", "session": {"name": "Zoë ✓"}}`
	mustExec(t, conn, `INSERT INTO clients (id, created_at, updated_at) VALUES ('m2m', now(), now())`)
	mustExec(t, conn, `INSERT INTO grants (id, client_id, subject, requested_at) VALUES ('g1', 'm2m', 'm2m', now())`)
	mustExec(t, conn, `INSERT INTO oauth_tokens (kind, signature, request_id, requested_at, expires_at, request)
		VALUES ('access_token', 'a1', 'g1', now(), now(), '`+request+`'), ('refresh_token', 'r1', 'g1', now(), now(), NULL)`)
	mustExec(t, conn, `INSERT INTO client_tokens (signature, request_id, client_id, subject, requested_at, expires_at, request)
		VALUES ('c1', 'g2', 'm2m', 'm2m', now(), now(), '`+request+`')`)
	if err := migrations.Up(t.Context(), dbURL); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT request FROM oauth_tokens WHERE signature = 'a1'`,
		`SELECT request FROM client_tokens WHERE signature = 'c1'`,
	} {
		var got []byte
		if err := conn.QueryRow(t.Context(), q).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		// jsonb's own spelling of the document.
		if want := `{"id": "g1", "session": {"name": "Zoë ✓"}}`; string(got) != want {
			t.Errorf("%s = %q, want %q", q, got, want)
		}
	}
	if n := count(t, conn, `SELECT count(*) FROM oauth_tokens WHERE signature = 'r1' AND request IS NULL`); n != 1 {
		t.Errorf("a token without a request: %d rows, want 1", n)
	}
	mustExec(t, conn, `INSERT INTO oauth_tokens (kind, signature, request_id, requested_at, expires_at, request)
		VALUES ('access_token', 'a2', 'g1', now(), now(), '\x0100ff'::bytea)`)
}
