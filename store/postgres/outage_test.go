package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/internal/faultproxy"
	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
)

// slack is added to a configured timeout to bound how long a test waits
// for the answer: generous, so that a loaded machine cannot fail it, and
// still far below the minutes pgx waits without timeouts.
const slack = 5 * time.Second

// behindProxy returns a fresh database's URL routed through a fault proxy.
func behindProxy(t *testing.T) (string, *faultproxy.Proxy) {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	u.Host = p.Addr()
	return u.String(), p
}

func openProxied(t *testing.T, dbURL string, to postgres.Timeouts) *postgres.Store {
	t.Helper()
	s, err := postgres.New(t.Context(), dbURL, postgres.WithTimeouts(to))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// within runs f and fails the test unless it returns within d.
func within[T any](t *testing.T, d time.Duration, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(d):
		t.Fatalf("%s: no answer within %s", what, d)
		var zero T
		return zero
	}
}

// lookup is a statement that reaches the database: a user that does not
// exist, so that success is store.ErrNotFound.
func lookup(s *postgres.Store) error {
	_, err := s.GetUser(context.Background(), uuid.NewString())
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// warm opens several connections, so that a partition has idle ones to
// kill.
func warm(t *testing.T, s *postgres.Store) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				errs <- lookup(s)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("warm up: %v", err)
		}
	}
}

func wantUnavailable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v, want store.ErrUnavailable", err)
	}
	if got := domain.ErrorCode(err); got != domain.CodeUnavailable {
		t.Errorf("domain code = %s, want %s", got, domain.CodeUnavailable)
	}
}

func TestFrozenDatabaseAnswersUnavailableWithinTheQueryTimeout(t *testing.T) {
	dbURL, p := behindProxy(t)
	to := postgres.Timeouts{Connect: time.Second, Query: 300 * time.Millisecond}
	s := openProxied(t, dbURL, to)
	warm(t, s)

	p.Freeze()
	wantUnavailable(t, within(t, to.Query+slack, "statement on a frozen database", func() error { return lookup(s) }))
	// A transaction's statements are bounded too.
	err := within(t, to.Query+slack, "transaction on a frozen database", func() error {
		return store.InTx(context.Background(), s, func(ctx context.Context) error {
			_, err := s.GetUser(ctx, uuid.NewString())
			return err
		})
	})
	wantUnavailable(t, err)
	wantUnavailable(t, within(t, to.Query+slack, "ping of a frozen database", func() error { return s.Ping(context.Background()) }))

	p.Pass()
	if err := within(t, to.Query+slack, "statement after the thaw", func() error { return lookup(s) }); err != nil {
		t.Fatalf("first statement after the thaw: %v", err)
	}
}

// A partition that kills the open connections for good: once it heals,
// the very first statement must succeed, not meet a dead connection or
// wait for the slot of one (pgx takes up to 15 s to let go of a
// connection whose statement timed out, and pgxpool keeps its slot
// meanwhile). Two connections, both broken by the partition, and connects
// begun during it that are never answered: those hold their slots until
// the connect timeout, which is why the query timeout must be longer.
func TestFirstStatementAfterPartitionSucceeds(t *testing.T) {
	dbURL, p := behindProxy(t)
	dbURL += "&pool_max_conns=2"
	to := postgres.Timeouts{Connect: 500 * time.Millisecond, Query: 2 * time.Second}
	s := openProxied(t, dbURL, to)
	warm(t, s)

	p.Blackhole()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			wantUnavailable(t, within(t, to.Query+slack, "statement during the partition", func() error { return lookup(s) }))
		})
	}
	wg.Wait()
	p.Pass()
	for i := range 3 {
		if err := within(t, to.Query+slack, "statement after the partition", func() error { return lookup(s) }); err != nil {
			t.Fatalf("statement %d after the partition: %v", i+1, err)
		}
	}
}

// The same partition while nothing runs: the idle connections die
// unnoticed, and are found dead by the ping before use.
func TestIdleConnectionsKilledByAPartitionAreNotUsed(t *testing.T) {
	dbURL, p := behindProxy(t)
	to := postgres.Timeouts{Connect: time.Second, Query: 1500 * time.Millisecond}
	s := openProxied(t, dbURL, to)
	warm(t, s)

	p.Blackhole()
	// Long enough for the pool to ping them before use; not a bound on
	// anything.
	time.Sleep(1200 * time.Millisecond)
	p.Pass()
	if err := within(t, to.Query+slack, "statement after a silent partition", func() error { return lookup(s) }); err != nil {
		t.Fatalf("first statement after a silent partition: %v", err)
	}
}

// A partition in which new connections are accepted and never answered:
// without a connect timeout pgx waits two minutes for each.
func TestConnectTimeoutBoundsAnUnansweredConnect(t *testing.T) {
	dbURL, p := behindProxy(t)
	to := postgres.Timeouts{Connect: 300 * time.Millisecond, Query: 10 * time.Second}
	p.Blackhole()
	err := within(t, to.Connect+slack, "connect through a partition", func() error {
		s, err := postgres.New(context.Background(), dbURL, postgres.WithTimeouts(to))
		if err == nil {
			s.Close()
		}
		return err
	})
	wantUnavailable(t, err)

	p.Pass()
	s := openProxied(t, dbURL, to)
	if err := lookup(s); err != nil {
		t.Fatalf("after the partition: %v", err)
	}
}

// A database that is down refuses connections: the answer is immediate
// and says unavailable; once it is back, the next statement works.
func TestRestartedDatabaseIsUnavailableThenRecovers(t *testing.T) {
	dbURL, p := behindProxy(t)
	to := postgres.Timeouts{Connect: time.Second, Query: 5 * time.Second}
	s := openProxied(t, dbURL, to)
	warm(t, s)

	p.Drop()
	p.ResetAll()
	wantUnavailable(t, within(t, to.Query+slack, "statement while the database is down", func() error { return lookup(s) }))
	p.Pass()
	if err := within(t, to.Query+slack, "statement after the restart", func() error { return lookup(s) }); err != nil {
		t.Fatalf("first statement after the restart: %v", err)
	}
}

// Errors that are the statement's, not the database's absence, keep their
// meaning.
func TestOrdinaryErrorsAreNotUnavailable(t *testing.T) {
	dbURL, _ := behindProxy(t)
	s := openProxied(t, dbURL, postgres.Timeouts{Connect: time.Second, Query: 5 * time.Second})
	_, err := s.GetUser(t.Context(), uuid.NewString())
	if !errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("unknown user: %v, want store.ErrNotFound only", err)
	}
	now := time.Now()
	c := store.Client{ID: "dup", TokenEndpointAuthMethod: "none", Public: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	err = s.CreateClient(t.Context(), c)
	if !errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("duplicate client: %v, want store.ErrConflict only", err)
	}
}

// A transaction cut off by a partition must not keep its row locks: the
// server ends a session idle in a transaction after twice the query
// timeout, so the next writer of the row is not held up for as long as
// the dead session lingers.
func TestPartitionLeavesNoRowLocksBehind(t *testing.T) {
	dbURL, p := behindProxy(t)
	to := postgres.Timeouts{Connect: 500 * time.Millisecond, Query: time.Second}
	s := openProxied(t, dbURL, to)
	direct := openProxied(t, directURL(t, dbURL, p), postgres.Timeouts{Connect: time.Second, Query: 30 * time.Second})
	now := time.Now()
	u := store.User{ID: uuid.NewString(), Username: "locked", Email: "locked@example.com", Status: store.StatusActive,
		CreatedAt: now, UpdatedAt: now}
	if err := direct.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}

	txCtx, err := s.BeginTx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	u.FullName = "Held"
	if err := s.UpdateUser(txCtx, u); err != nil { // locks the row until the transaction ends
		t.Fatal(err)
	}
	p.Blackhole()
	wantUnavailable(t, within(t, to.Query+slack, "commit through the partition", func() error { return s.Commit(txCtx) }))

	u.FullName = "Next"
	err = within(t, 2*to.Query+slack, "update of the row the lost transaction held", func() error {
		return direct.UpdateUser(context.Background(), u)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// directURL is dbURL without the proxy.
func directURL(t *testing.T, dbURL string, p *faultproxy.Proxy) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	server, err := url.Parse(pgtest.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != p.Addr() {
		t.Fatalf("%s does not go through the proxy", u.Redacted())
	}
	u.Host = server.Host
	return u.String()
}
