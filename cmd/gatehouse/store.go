package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// errNoDatabase explains where the database URL comes from; the
// administration commands have no in-memory fallback, since their changes
// would vanish with the process.
var errNoDatabase = errors.New("database_url is not set: use GATEHOUSE_DATABASE_URL, GATEHOUSE_DATABASE_URL_FILE or database_url in the --config file")

// databaseURL returns the configured database URL or errNoDatabase.
func (a *app) databaseURL() (string, error) {
	if a.cfg.DatabaseURL == "" {
		return "", errNoDatabase
	}
	return a.cfg.DatabaseURL, nil
}

// openStore is the only place the CLI names a storage backend; every
// command works on the store.Store it returns. The caller closes it.
func (a *app) openStore(ctx context.Context) (store.Store, error) {
	url, err := a.databaseURL()
	if err != nil {
		return nil, err
	}
	if err := a.cfg.ValidateFields("database"); err != nil {
		return nil, err
	}
	st, err := postgres.New(ctx, url, storeTimeouts(a.cfg))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return st, nil
}

// storeTimeouts is the database section of cfg as the store's option:
// the CLI waits no longer than the server for a database that stalls.
func storeTimeouts(cfg config.Config) postgres.Option {
	return postgres.WithTimeouts(postgres.Timeouts{Connect: cfg.Database.ConnectTimeout, Query: cfg.Database.QueryTimeout})
}

// printJSON writes v to stdout, indented, with URLs left readable (no
// \u0026 for '&').
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// orEmpty makes nil slices print as [] rather than null, so that scripts can
// iterate over every list field without a null check.
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// clientTokenCommit is the tokens section of cfg as the store's option
// (README "Performance"): how the server commits client_credentials tokens.
func clientTokenCommit(cfg config.Config) postgres.Option {
	return postgres.WithClientTokenCommit(postgres.ClientTokenCommit{
		MaxBatch: cfg.Tokens.GroupCommit.MaxBatch,
		Window:   cfg.Tokens.GroupCommit.Window,
		Async:    cfg.Tokens.AccessTokenCommit == "async",
	})
}
