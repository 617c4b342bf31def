package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/pgtest"
)

func TestMigrateStatusOnMigratedDatabase(t *testing.T) {
	e, _ := newDBEnv(t)
	var status []migrationView
	e.ok(&status, "migrate", "status")
	assertAllApplied(t, status)

	// up on an up-to-date database changes nothing and prints the same.
	var again []migrationView
	e.ok(&again, "migrate", "up")
	assertAllApplied(t, again)
	if len(again) != len(status) {
		t.Fatalf("migrate up listed %d migrations, status %d", len(again), len(status))
	}
	for i := range status {
		if !again[i].AppliedAt.Equal(*status[i].AppliedAt) {
			t.Errorf("migration %d re-applied: applied_at %v, then %v", status[i].Version, status[i].AppliedAt, again[i].AppliedAt)
		}
	}
}

func TestMigrateUpOnEmptyDatabase(t *testing.T) {
	e := newEnv(t)
	e.vars["GATEHOUSE_DATABASE_URL"] = emptyDatabase(t)

	var before []migrationView
	e.ok(&before, "migrate", "status")
	if len(before) == 0 {
		t.Fatal("migrate status listed no migrations")
	}
	for _, m := range before {
		if m.Applied || m.AppliedAt != nil {
			t.Fatalf("migration %d shown applied on an empty database: %+v", m.Version, m)
		}
	}

	var after []migrationView
	e.ok(&after, "migrate", "up")
	assertAllApplied(t, after)
	if len(after) != len(before) {
		t.Fatalf("migrate up listed %d migrations, status before %d", len(after), len(before))
	}
}

func assertAllApplied(t *testing.T, status []migrationView) {
	t.Helper()
	if len(status) == 0 {
		t.Fatal("no migrations listed")
	}
	if status[0].Version != 1 || !strings.HasSuffix(status[0].Name, ".sql") {
		t.Errorf("first migration = %+v, want version 1 with a .sql name", status[0])
	}
	for i, m := range status {
		if !m.Applied || m.AppliedAt == nil || m.AppliedAt.IsZero() {
			t.Errorf("migration %+v not applied", m)
		}
		if i > 0 && m.Version <= status[i-1].Version {
			t.Errorf("migrations out of order: %d after %d", m.Version, status[i-1].Version)
		}
	}
}

// emptyDatabase creates a database without the schema (pgtest's are
// migrated) and drops it when the test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	serverURL := pgtest.ServerURL()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		t.Fatalf("connect to PostgreSQL at %s: %v", pgtest.EnvURL, err)
	}
	defer conn.Close(context.Background())

	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "gatehouse_test_empty_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", pgtest.EnvURL)
	}
	u.Path = "/" + name
	return u.String()
}
