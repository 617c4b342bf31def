package postgres_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
	"github.com/gatehouse/gatehouse/store/storetest"
)

// TestConformanceGroupCommit runs the shared suite's client-token tests on a
// store that gathers client tokens into shared commits, asynchronously:
// what a client sees must not depend on how the tokens are committed.
// (TestConformance runs them, with the rest, committing each on its own.)
func TestConformanceGroupCommit(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	storetest.RunClientTokens(t, func(t *testing.T) store.Store {
		pgtest.Reset(t, dbURL)
		s, err := postgres.New(t.Context(), dbURL, postgres.WithClientTokenCommit(postgres.ClientTokenCommit{
			MaxBatch: 8, Window: time.Millisecond, Async: true,
		}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}
