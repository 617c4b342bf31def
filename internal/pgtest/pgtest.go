package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/store"
)

// EnvURL names the variable holding the URL of the server tests may create
// databases on.
const EnvURL = "GATEHOUSE_TEST_DATABASE_URL"

// DefaultURL is used when EnvURL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// versionTable is goose's bookkeeping, which Reset keeps.
const versionTable = "goose_db_version"

// ServerURL returns the URL tests connect to in order to create databases.
func ServerURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase creates a uniquely named database on the test server, applies
// every migration to it, drops it when the test ends and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dbURL := NewEmptyDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := migrations.Up(ctx, dbURL); err != nil {
		t.Fatalf("pgtest: migrate %s: %v", redact(dbURL), err)
	}
	return dbURL
}

// NewEmptyDatabase is NewDatabase without the migrations, for tests of the
// migrations themselves.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	serverURL := ServerURL()
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("pgtest: cannot reach PostgreSQL at %s (set %s to another server): %v\n"+
			"start the local server with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
			redact(serverURL), EnvURL, err)
	}
	defer admin.Close(context.Background())

	name := "gatehouse_test_" + randomHex(t, 8)
	dbURL, err := withDatabase(serverURL, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, serverURL, name) })
	return dbURL
}

func dropDatabase(t testing.TB, serverURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
		return
	}
	defer admin.Close(context.Background())
	// FORCE ends the connections a test may have leaked, which would otherwise
	// keep the database alive.
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop database %s: %v", name, err)
	}
}

// Reset empties every table of the database at databaseURL except goose's
// version table, and brings the roles back to the built-in four as
// store.BuiltInRoles defines them, so that one database can serve many
// tests in turn.
func Reset(t testing.TB, databaseURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatalf("pgtest: reset: connect to %s: %v", redact(databaseURL), err)
	}
	defer conn.Close(context.Background())
	if err := reset(ctx, conn); err != nil {
		t.Fatalf("pgtest: reset: %v", err)
	}
}

func reset(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit

	// Listing the tables rather than naming them keeps Reset right when later
	// migrations add tables.
	rows, err := tx.Query(ctx, `
		SELECT tablename FROM pg_tables
		WHERE schemaname = current_schema() AND tablename NOT IN ($1, 'roles')
		ORDER BY tablename`, versionTable)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	if len(tables) > 0 {
		idents := make([]string, len(tables))
		for i, name := range tables {
			idents[i] = pgx.Identifier{name}.Sanitize()
		}
		if _, err := tx.Exec(ctx, "TRUNCATE "+strings.Join(idents, ", ")+" RESTART IDENTITY"); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
	}

	// A test may have edited a built-in role or pointed one at a custom
	// parent: restore them first (parents before children), then remove the
	// custom roles.
	builtIn := store.BuiltInRoles()
	slices.Reverse(builtIn)
	for _, r := range builtIn {
		_, err := tx.Exec(ctx, `
			INSERT INTO roles (name, description, parent, permissions, suggested_goals, built_in)
			VALUES ($1, $2, NULLIF($3, ''), $4, $5, true)
			ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, parent = EXCLUDED.parent,
				permissions = EXCLUDED.permissions, suggested_goals = EXCLUDED.suggested_goals, built_in = true`,
			r.Name, r.Description, r.Parent, nonNil(r.Permissions), nonNil(r.SuggestedGoals))
		if err != nil {
			return fmt.Errorf("restore role %s: %w", r.Name, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE roles SET parent = NULL WHERE NOT built_in AND parent IS NOT NULL`); err != nil {
		return fmt.Errorf("unlink custom roles: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM roles WHERE NOT built_in`); err != nil {
		return fmt.Errorf("delete custom roles: %w", err)
	}
	return tx.Commit(ctx)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// withDatabase returns serverURL pointing at database name instead.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	if strings.Contains(serverURL, "://") {
		return "", fmt.Errorf("cannot parse %s as a PostgreSQL URL", redact(serverURL))
	}
	// Keyword/value form: a later setting overrides an earlier one.
	return serverURL + " dbname=" + name, nil
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: random name: %v", err)
	}
	return hex.EncodeToString(b)
}

func redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		return "the configured server"
	}
	return u.Redacted()
}
