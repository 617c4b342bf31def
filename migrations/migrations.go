package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"
	"path"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Migration is one embedded migration and whether the database has it.
type Migration struct {
	Version   int64
	Name      string // file name, e.g. 00001_initial.sql
	Applied   bool
	AppliedAt time.Time // zero unless Applied
}

// Up applies every pending migration to the database at databaseURL. Several
// processes may call it at once: they take turns on an advisory lock, and
// the later ones find nothing left to do.
func Up(ctx context.Context, databaseURL string) error {
	return withProvider(ctx, databaseURL, func(p *goose.Provider) error {
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrations: up: %w", err)
		}
		return nil
	})
}

// Status lists every embedded migration in version order and whether it has
// been applied to the database at databaseURL.
func Status(ctx context.Context, databaseURL string) ([]Migration, error) {
	var out []Migration
	err := withProvider(ctx, databaseURL, func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return fmt.Errorf("migrations: status: %w", err)
		}
		out = make([]Migration, 0, len(st))
		for _, s := range st {
			m := Migration{
				Version: s.Source.Version,
				Name:    path.Base(s.Source.Path),
				Applied: s.State == goose.StateApplied,
			}
			if m.Applied {
				m.AppliedAt = s.AppliedAt.UTC()
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

func withProvider(ctx context.Context, databaseURL string, fn func(*goose.Provider) error) (err error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return fmt.Errorf("migrations: open database: %w", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("migrations: close database: %w", cerr)
		}
	}()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("migrations: connect to %s: %w", redact(databaseURL), err)
	}
	// The default probe waits 5 s between attempts; instances starting
	// together should not idle that long. The total wait stays 5 minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrations: session locker: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return fn(p)
}

// redact hides the password of a URL-form connection string, so that it can
// appear in errors; a keyword/value string may hold one anywhere, so it is
// not shown at all.
func redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		return "the database"
	}
	return u.Redacted()
}
