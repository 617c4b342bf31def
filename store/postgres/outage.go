package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/store"
)

// Timeouts bound how long the store waits for the database. A zero field
// sets no bound of the store's own (pgx's behaviour: wait as long as the
// caller's context allows).
type Timeouts struct {
	// Connect bounds opening one connection: dial, TLS and
	// authentication. A connect_timeout in the database URL wins.
	Connect time.Duration
	// Query bounds each statement, waiting for a free connection
	// included, unless the caller's context ends sooner. A statement that
	// runs out of it fails with store.ErrUnavailable and its connection is
	// closed.
	Query time.Duration
}

// WithTimeouts sets the store's timeouts.
func WithTimeouts(t Timeouts) Option {
	return func(s *Store) { s.timeouts = t }
}

// The pool's own liveness settings. They are not configuration: they only
// decide how soon a dead connection is noticed, which no operator tunes.
const (
	// A connection idle for longer than idleBeforePing is pinged before
	// it is handed out, for at most pingTimeout: a connection cut by a
	// partition costs that, not a whole query timeout.
	idleBeforePing = time.Second
	pingTimeout    = 500 * time.Millisecond
	// healthCheckPeriod is how often the pool retires idle and aged
	// connections (pgxpool's default is a minute).
	healthCheckPeriod = 5 * time.Second
	// TCP keepalives find a peer that vanished under an idle connection
	// (the listener's, mostly) in about idle + count*interval.
	keepAliveIdle     = 15 * time.Second
	keepAliveInterval = 5 * time.Second
	keepAliveCount    = 3
	// resetEvery bounds how often a failure resets the whole pool: once
	// is enough for every connection a partition or restart broke.
	resetEvery = 500 * time.Millisecond
)

// dialer opens the pool's connections (and the listener's) with TCP
// keepalives tighter than the kernel's two hours.
func dialer() *net.Dialer {
	return &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: keepAliveCount,
	}}
}

// bound gives a statement the store's query timeout, unless ctx ends
// sooner.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.timeouts.Query
	if d <= 0 {
		return ctx, func() {}
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// outage marks err as store.ErrUnavailable when it says the database could
// not be reached or did not answer in time, and then resets the pool if the
// failure suggests that the other connections are broken as well. parent is
// the caller's context: when it was the caller who gave up, the
// connections are not to blame.
func (s *Store) outage(parent context.Context, err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || !unreachable(err) {
		return err
	}
	if parent.Err() == nil && brokenConnection(err) {
		s.resetPool()
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// resetPool closes every idle connection and marks those in use to be
// closed when they come back. After a partition or a restart the idle ones
// are most likely dead, and each would otherwise cost a ping timeout (or a
// failed request) before the pool found out.
func (s *Store) resetPool() {
	now := time.Now().UnixNano()
	last := s.lastReset.Load()
	if now-last < int64(resetEvery) || !s.lastReset.CompareAndSwap(last, now) {
		return
	}
	s.pool.Reset()
}

// unavailableState reports whether a SQLSTATE means that the server cannot
// serve now rather than that the statement is wrong: class 08 (connection
// exception) and a few others.
func unavailableState(code string) bool {
	switch code {
	case "53300", // too_many_connections
		"57014", // query_canceled (statement_timeout)
		"57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03": // cannot_connect_now (starting up, shutting down)
		return true
	}
	return strings.HasPrefix(code, "08")
}

// unreachable reports whether err says the database did not answer: a
// deadline or cancellation, a failed connect, a broken connection, or the
// server refusing service for now.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableState(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &connectErr) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &netErr)
}

// brokenConnection reports whether an unreachable err came from the
// connection itself (a statement that timed out on the wire, a connect
// that failed, a reset, the server going away) rather than from waiting
// for a free connection, which only says that the pool is busy.
func brokenConnection(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02"
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	// A bare context error is the wait for a connection (context errors
	// are net.Errors too, hence this order).
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}

// guarded is a querier (the pool or a transaction) whose every statement
// runs under the query timeout and whose outages come back as
// store.ErrUnavailable.
type guarded struct {
	s *Store
	q querier
}

func (g guarded) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	bctx, cancel := g.s.bound(ctx)
	defer cancel()
	tag, err := g.q.Exec(bctx, sql, args...)
	return tag, g.s.outage(ctx, err)
}

func (g guarded) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	bctx, cancel := g.s.bound(ctx)
	rows, err := g.q.Query(bctx, sql, args...)
	if err != nil {
		cancel()
		return rows, g.s.outage(ctx, err)
	}
	return &guardedRows{Rows: rows, s: g.s, parent: ctx, cancel: cancel}, nil
}

func (g guarded) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	bctx, cancel := g.s.bound(ctx)
	return guardedRow{row: g.q.QueryRow(bctx, sql, args...), s: g.s, parent: ctx, cancel: cancel}
}

func (g guarded) Begin(ctx context.Context) (pgx.Tx, error) {
	bctx, cancel := g.s.bound(ctx)
	defer cancel()
	tx, err := g.q.Begin(bctx)
	return tx, g.s.outage(ctx, err)
}

// guardedRow keeps the statement's deadline until the row is scanned.
type guardedRow struct {
	row    pgx.Row
	s      *Store
	parent context.Context
	cancel context.CancelFunc
}

func (r guardedRow) Scan(dest ...any) error {
	defer r.cancel()
	return r.s.outage(r.parent, r.row.Scan(dest...))
}

// guardedRows keeps the statement's deadline until the rows are closed.
type guardedRows struct {
	pgx.Rows
	s      *Store
	parent context.Context
	cancel context.CancelFunc
}

func (r *guardedRows) Close() {
	r.Rows.Close()
	r.cancel()
}

func (r *guardedRows) Err() error { return r.s.outage(r.parent, r.Rows.Err()) }

func (r *guardedRows) Scan(dest ...any) error { return r.s.outage(r.parent, r.Rows.Scan(dest...)) }
