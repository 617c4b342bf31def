package pgtest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// fatalRecorder stands in for a testing.TB to observe what NewDatabase does
// when it cannot go on.
type fatalRecorder struct {
	testing.TB
	message string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.message = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Skip(...any)          { panic("pgtest must fail, not skip") }
func (r *fatalRecorder) Skipf(string, ...any) { panic("pgtest must fail, not skip") }
func (r *fatalRecorder) SkipNow()             { panic("pgtest must fail, not skip") }

func TestNewDatabaseFailsWhenUnreachable(t *testing.T) {
	t.Setenv(EnvURL, "postgres://postgres:not-shown@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewDatabase(rec)
	}()
	<-done
	for _, want := range []string{"127.0.0.1:1", EnvURL, "pg_ctlcluster --skip-systemctl-redirect"} {
		if !strings.Contains(rec.message, want) {
			t.Errorf("failure message %q does not mention %q", rec.message, want)
		}
	}
	if strings.Contains(rec.message, "not-shown") {
		t.Errorf("failure message leaks the password: %q", rec.message)
	}
}

func TestWithDatabase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/db1?sslmode=disable"},
		{"postgresql://u:p@h/", "postgresql://u:p@h/db1"},
		{"host=127.0.0.1 user=postgres dbname=postgres", "host=127.0.0.1 user=postgres dbname=postgres dbname=db1"},
	}
	for _, tc := range tests {
		got, err := withDatabase(tc.in, "db1")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := withDatabase("mysql://x/y", "db1"); err == nil {
		t.Error("withDatabase accepted a non-PostgreSQL URL")
	}
}

func TestNewDatabaseAndReset(t *testing.T) {
	ctx := context.Background()
	var name string
	t.Run("create", func(t *testing.T) {
		dbURL := NewDatabase(t)
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "gatehouse_test_") {
			t.Errorf("database %q, want a gatehouse_test_ prefix", name)
		}

		exec := func(sql string) {
			t.Helper()
			if _, err := conn.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		exec(`INSERT INTO clients (id, created_at, updated_at) VALUES ('web', now(), now())`)
		exec(`INSERT INTO roles (name, parent) VALUES ('desk', NULL), ('trader', 'desk')`)
		exec(`UPDATE roles SET description = 'changed', permissions = '{}', parent = 'trader' WHERE name = 'viewer'`)
		exec(`INSERT INTO users (id, username, email, status, created_at, updated_at)
			VALUES (gen_random_uuid(), 'alice', 'alice@example.com', 'active', now(), now())`)
		exec(`INSERT INTO user_roles SELECT id, 'trader' FROM users`)

		Reset(t, dbURL)

		var rows int
		if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM clients) + (SELECT count(*) FROM users)
			+ (SELECT count(*) FROM user_roles)`).Scan(&rows); err != nil || rows != 0 {
			t.Errorf("rows left after Reset = %d, %v", rows, err)
		}
		var applied int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil || applied == 0 {
			t.Errorf("goose versions after Reset = %d, %v; want them kept", applied, err)
		}
		want := map[string]store.Role{}
		for _, r := range store.BuiltInRoles() {
			want[r.Name] = r
		}
		r, err := conn.Query(ctx, `SELECT name, description, coalesce(parent, ''), permissions FROM roles`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(r, func(row pgx.CollectableRow) (store.Role, error) {
			var role store.Role
			return role, row.Scan(&role.Name, &role.Description, &role.Parent, &role.Permissions)
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("%d roles after Reset, want %d", len(got), len(want))
		}
		for _, g := range got {
			w := want[g.Name]
			if g.Description != w.Description || g.Parent != w.Parent || len(g.Permissions) != len(w.Permissions) {
				t.Errorf("role after Reset %+v, want %+v", g, w)
			}
		}
	})
	// The subtest's cleanup dropped its database.
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil || exists {
		t.Errorf("database %s exists = %v (%v) after its test ended", name, exists, err)
	}
}
