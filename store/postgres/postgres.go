package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.Store = (*Store)(nil)

// Store is the PostgreSQL backend of store.Store. It is safe for concurrent
// use; a transaction carried in a context is not, as with any pgx.Tx.
type Store struct {
	pool     *pgxpool.Pool
	now      func() time.Time
	timeouts Timeouts
	// lastReset is when a failure last reset the pool (Unix nanoseconds).
	lastReset atomic.Int64
	// observers hear of revocations of access tokens, and feed matches
	// their notifications to the revocations waiting for them
	// (tokenchanges.go).
	observers tokenObservers
	feed      barrier
	// barrierWait is WithBarrierWait's bound; 0 is the default.
	barrierWait time.Duration
	// tokenCommit is how client tokens are committed, and commits their
	// group committer if they are batched (groupcommit.go).
	tokenCommit ClientTokenCommit
	commits     *committer
}

// Option configures New.
type Option func(*Store)

// WithClock sets the clock of the methods whose contract depends on the time
// but takes none (GetPARRequest). The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// WithBarrierWait bounds how long a revocation waits, after its commit, for
// every instance's listener to acknowledge its notification (default 2 s);
// tests that load the machine give it room.
func WithBarrierWait(d time.Duration) Option {
	return func(s *Store) { s.barrierWait = d }
}

// New connects to the database at databaseURL, whose schema must be migrated
// (package migrations).
//
// Whatever the options, the pool pings a connection that has been idle for
// over a second before handing it out (for at most half a second), its
// connections send TCP keepalives, and a failure that suggests broken
// connections (a statement that timed out on the wire, a failed connect or
// ping, a reset) resets the pool, so that the first request after the
// database returns does not meet the dead connections of the outage.
func New(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: cannot parse the database URL")
	}
	s := &Store{now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.configurePool(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s.pool = pool
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if s.tokenCommit.MaxBatch > 1 {
		s.commits = newCommitter(s, s.tokenCommit)
	}
	return s, nil
}

// Ping reports whether the database answers within the query timeout.
func (s *Store) Ping(ctx context.Context) error {
	bctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.outage(ctx, poolQuerier{s}.ping(bctx)); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// PoolStats returns a snapshot of the connection pool's statistics, for the
// metrics an operator sizes the pool by.
func (s *Store) PoolStats() *pgxpool.Stat { return s.pool.Stat() }

// Close stops the group committer, once its batches are answered, and
// closes every connection of the pool.
func (s *Store) Close() {
	if s.commits != nil {
		s.commits.close()
	}
	s.pool.Close()
}

// ---------------------------------------------------------------------------
// Transactions

// txKey is keyed by the store so that a transaction of one Store is never
// used by another (two stores on two databases may share a context).
type txKey struct{ s *Store }

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// db returns the transaction ctx carries, or the pool. Every query of the
// package goes through it, so that fosite's "invalidate the code, create the
// tokens" runs in the one transaction it began.
func (s *Store) db(ctx context.Context) querier {
	if tx, ok := s.tx(ctx); ok {
		return guarded{s: s, q: tx}
	}
	return guarded{s: s, q: poolQuerier{s}}
}

func (s *Store) tx(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(txKey{s}).(pgx.Tx)
	return tx, ok
}

// BeginTx starts a transaction, or a savepoint if ctx already carries one,
// and returns a context carrying it.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	tx, err := s.db(ctx).Begin(ctx)
	if err != nil {
		return ctx, fmt.Errorf("postgres: begin: %w", err)
	}
	return context.WithValue(s.withPending(ctx), txKey{s}, tx), nil
}

// Commit commits the transaction (or releases the savepoint) ctx carries.
func (s *Store) Commit(ctx context.Context) error {
	tx, ok := s.tx(ctx)
	if !ok {
		return errors.New("postgres: commit: no transaction in context")
	}
	if rtx, ok := tx.(*releasingTx); ok && s.awaitsListeners(ctx) {
		// One round trip for both (commit.go).
		pids, sent, err := s.commitFindingListeners(ctx, rtx)
		if sent {
			if err != nil {
				s.rolledBack(ctx)
				return fmt.Errorf("postgres: commit: %w", err)
			}
			s.committedKnowing(ctx, pids)
			return nil
		}
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	if err := s.outage(ctx, tx.Commit(bctx)); err != nil {
		s.rolledBack(ctx)
		return fmt.Errorf("postgres: commit: %w", err)
	}
	s.committed(ctx)
	return nil
}

// Rollback undoes the transaction (or savepoint) ctx carries. After Commit it
// does nothing, so callers may defer it.
func (s *Store) Rollback(ctx context.Context) error {
	tx, ok := s.tx(ctx)
	if !ok {
		return errors.New("postgres: rollback: no transaction in context")
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	err := s.outage(ctx, tx.Rollback(bctx))
	if !errors.Is(err, pgx.ErrTxClosed) {
		// After Commit (ErrTxClosed) the pending notices are the commit's.
		s.rolledBack(ctx)
	}
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres: rollback: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction nested in whatever ctx carries, for methods
// that need several statements to be atomic.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return store.InTx(ctx, s, fn)
}

// ---------------------------------------------------------------------------
// Errors

// SQLSTATE codes the contract gives a meaning to.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// classify maps a unique violation to store.ErrConflict, no rows to
// store.ErrNotFound and, when onForeignKey is not nil, a foreign-key
// violation to onForeignKey: the contract says which missing reference means
// "not found" (CreateUser with an unknown role) and which means "in use"
// (DeleteRole of an assigned role). The constraint name is kept in the
// message: it tells which rule failed (username or email taken).
func classify(err error, onForeignKey error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == codeUniqueViolation:
			return fmt.Errorf("%s: %w", pgErr.ConstraintName, store.ErrConflict)
		case pgErr.Code == codeForeignKeyViolation && onForeignKey != nil:
			return fmt.Errorf("%s: %w", pgErr.ConstraintName, onForeignKey)
		}
	}
	return err
}

// ---------------------------------------------------------------------------
// Values in and out

// parseUUID returns the canonical form of a UUID id. Ids that do not parse
// name nothing: the methods report them as not found rather than pass them
// to PostgreSQL, which would answer with a syntax error.
func parseUUID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// optionalUUID is parseUUID for nullable references: "" is NULL.
func optionalUUID(id string) (any, bool) {
	if id == "" {
		return nil, true
	}
	return parseUUID(id)
}

// optionalText stores "" as NULL, for nullable references.
func optionalText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// list keeps arrays non-NULL in the database and non-nil in Go: the
// conformance suite reads every []string back as a non-nil slice, so that it
// encodes as [] rather than null.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// jsonArg passes a JSON document to a jsonb column; an absent one is NULL.
func jsonArg(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// jsonObject passes a JSON object that defaults to {}.
func jsonObject(raw json.RawMessage) string {
	if t := strings.TrimSpace(string(raw)); t != "" && t != "null" {
		return t
	}
	return "{}"
}

// utc converts what pgx returns (local time) to UTC.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// escapeLike quotes the wildcards of a user's search text for LIKE/ILIKE,
// whose default escape character is the backslash.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
