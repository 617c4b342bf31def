package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The pool's connections are acquired and given back here rather than by
// pgxpool.Pool's own Exec, Query, QueryRow and Begin, for two reasons:
//
//   - A broken connection must leave the pool at once. pgx ends a
//     connection whose statement ran out of time with a farewell to the
//     server (a cancel request, then a drain) that may take 15 s against a
//     database that does not answer, and pgxpool holds the connection's slot
//     until it is over: after a partition every slot is held by a corpse
//     exactly when the pool should reconnect. release hijacks such a
//     connection instead, so the slot is free while pgx says goodbye in the
//     background.
//   - A connection that sat idle is pinged before use, briefly, and a dead
//     one resets the pool (its idle siblings died of the same cause), so
//     that the retry opens a new connection instead of trying each corpse.

// staleKey marks, in a connection's CustomData, that it sat idle long
// enough to be pinged before use. pgxpool's ShouldPing hook sets it; its
// own ping is turned off, since it only drops the dead connection, holding
// the slot.
const staleKey = "gatehouse.stale"

// configurePool sets the connect timeout, keepalives and liveness rules.
func (s *Store) configurePool(cfg *pgxpool.Config) {
	if cfg.ConnConfig.ConnectTimeout <= 0 {
		cfg.ConnConfig.ConnectTimeout = s.timeouts.Connect
	}
	if q := s.timeouts.Query; q > 0 {
		// The server gives up too. A client cut off by a partition leaves
		// its session behind, idle in a transaction that holds row locks
		// (a refresh token's, say) until the server notices, which without
		// these takes as long as TCP does: every later request for that
		// row would wait on it. Settings in the database URL win.
		params := cfg.ConnConfig.RuntimeParams
		setDefault(params, "statement_timeout", milliseconds(q))
		setDefault(params, "idle_in_transaction_session_timeout", milliseconds(2*q))
	}
	cfg.ConnConfig.DialFunc = dialer().DialContext
	cfg.HealthCheckPeriod = healthCheckPeriod
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool {
		if p.IdleDuration > idleBeforePing {
			p.Conn.PgConn().CustomData()[staleKey] = true
		}
		return false
	}
}

func setDefault(params map[string]string, key, value string) {
	if _, ok := params[key]; !ok {
		params[key] = value
	}
}

func milliseconds(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// acquire returns a live connection of the pool.
func (s *Store) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	for {
		c, err := s.pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		data := c.Conn().PgConn().CustomData()
		if data[staleKey] != true {
			return c, nil
		}
		delete(data, staleKey)
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err = c.Ping(pctx)
		cancel()
		if err == nil {
			return c, nil
		}
		release(c)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Reset leaves no idle connection, so the loop ends with a new
		// one (or the caller's deadline).
		s.resetPool()
	}
}

// release gives c back to the pool, or, if it is broken, takes it out of
// the pool at once (see above). pgx closes a broken connection itself.
func release(c *pgxpool.Conn) {
	if c.Conn().IsClosed() {
		c.Hijack()
		return
	}
	c.Release()
}

// poolQuerier is the pool as a querier, with acquire and release.
type poolQuerier struct{ s *Store }

func (q poolQuerier) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := q.s.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer release(c)
	return c.Exec(ctx, sql, args...)
}

func (q poolQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c, err := q.s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, sql, args...)
	if err != nil {
		release(c)
		return nil, err
	}
	return &releasingRows{Rows: rows, c: c}, nil
}

func (q poolQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	c, err := q.s.acquire(ctx)
	if err != nil {
		return errRow{err}
	}
	return releasingRow{row: c.QueryRow(ctx, sql, args...), c: c}
}

func (q poolQuerier) Begin(ctx context.Context) (pgx.Tx, error) {
	c, err := q.s.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		release(c)
		return nil, err
	}
	return &releasingTx{Tx: tx, c: c}, nil
}

// ping checks one live connection.
func (q poolQuerier) ping(ctx context.Context) error {
	c, err := q.s.acquire(ctx)
	if err != nil {
		return err
	}
	defer release(c)
	return c.Ping(ctx)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// releasingRow gives its connection back once scanned.
type releasingRow struct {
	row pgx.Row
	c   *pgxpool.Conn
}

func (r releasingRow) Scan(dest ...any) error {
	defer release(r.c)
	return r.row.Scan(dest...)
}

// releasingRows gives its connection back once closed, or read to the end
// (as pgxpool's rows do).
type releasingRows struct {
	pgx.Rows
	c *pgxpool.Conn
}

func (r *releasingRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *releasingRows) Close() {
	r.Rows.Close()
	if r.c != nil {
		release(r.c)
		r.c = nil
	}
}

// releasingTx gives its connection back when it ends. Its savepoints
// (Begin) are the connection's own.
type releasingTx struct {
	pgx.Tx
	c *pgxpool.Conn
	// done: ended on the connection itself (commitFindingListeners); the
	// pgx Tx, which does not know, must not send anything more.
	done bool
}

func (t *releasingTx) Commit(ctx context.Context) error {
	if t.done {
		return pgx.ErrTxClosed
	}
	err := t.Tx.Commit(ctx)
	t.release()
	return err
}

func (t *releasingTx) Rollback(ctx context.Context) error {
	if t.done {
		return pgx.ErrTxClosed
	}
	err := t.Tx.Rollback(ctx)
	t.release()
	return err
}

func (t *releasingTx) release() {
	if t.c != nil {
		release(t.c)
		t.c = nil
	}
}
