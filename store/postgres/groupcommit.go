package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// Group commit of client tokens.
//
// A client_credentials request writes one row and then waits for its
// commit, which waits for the write-ahead log to reach disk. The request's
// CPU is small beside that wait and beside the commit's own cost (a round
// trip, a transaction's start and end, a WAL flush request), so concurrent
// inserts are gathered into one transaction: one round trip (BEGIN, the
// inserts and COMMIT pipelined) and one commit serve up to MaxBatch
// requests. Each request is answered once the COMMIT of its batch has
// answered, and with its own row's outcome; a batch that fails as a whole
// because of one row (a client deleted meanwhile, a duplicate) is retried
// row by row, so that only that row fails.

// ClientTokenCommit configures how client tokens (CreateClientToken outside
// a transaction) are committed.
type ClientTokenCommit struct {
	// MaxBatch bounds the tokens one commit serves; 1 or less commits each
	// on its own.
	MaxBatch int
	// Window is how long a batch, once it has its first token, waits for
	// more while another batch is committing. An idle store commits at
	// once: waiting would only add latency. 0: a batch takes only the
	// tokens already waiting.
	Window time.Duration
	// Async commits client tokens with synchronous_commit off: the commit
	// does not wait for the WAL flush, so a crash of the database server
	// may lose the tokens of its last moments (about three times
	// wal_writer_delay). Never for anything else: codes, refresh tokens
	// and revocations are written elsewhere, durably, and a client token
	// that records a DPoP proof's use is committed durably too (its loss
	// would let the proof be presented again).
	Async bool
}

// WithClientTokenCommit sets how client tokens are committed. The default
// commits each on its own, durably (as ClientTokenCommit{}).
func WithClientTokenCommit(c ClientTokenCommit) Option {
	return func(s *Store) { s.tokenCommit = c }
}

// committers is how many batches may be committing at once. Two keep one
// batch gathering while the other commits; more would split the waiting
// tokens into smaller batches (PostgreSQL already merges the WAL flushes
// of concurrent commits).
const committers = 2

// errStoreClosed answers inserts that arrive after Close.
var errStoreClosed = fmt.Errorf("the store is closed: %w", store.ErrUnavailable)

// committer gathers client-token inserts into batches. Its goroutines run
// from New until Close.
type committer struct {
	s      *Store
	cfg    ClientTokenCommit
	queue  chan *pendingInsert
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
	// committing counts the batches being written, from their first
	// statement to the answer to their COMMIT.
	committing atomic.Int32
	// stats count what the committer did (GroupCommitStats).
	waiting, commits, tokens, retried atomic.Int64
}

// GroupCommitStats is what the group committer did since New: commits made
// (batches of one included), tokens they carried, batches retried row by
// row after a failure; Waiting is the inserts waiting to be taken now.
type GroupCommitStats struct {
	Commits, Tokens, Retried, Waiting int64
}

// GroupCommitStats reports the group committer's counts (zero without one).
func (s *Store) GroupCommitStats() GroupCommitStats {
	c := s.commits
	if c == nil {
		return GroupCommitStats{}
	}
	return GroupCommitStats{Commits: c.commits.Load(), Tokens: c.tokens.Load(), Retried: c.retried.Load(),
		Waiting: c.waiting.Load()}
}

// pendingInsert is one CreateClientToken call waiting for its batch.
type pendingInsert struct {
	ctx  context.Context
	row  clientTokenRow
	done chan error // buffered: the committer never waits for the caller
}

func newCommitter(s *Store, cfg ClientTokenCommit) *committer {
	c := &committer{s: s, cfg: cfg, queue: make(chan *pendingInsert), stop: make(chan struct{})}
	c.wg.Add(committers)
	for range committers {
		go c.run()
	}
	return c
}

// close stops the goroutines once their batches are answered. An insert
// waiting to be taken is answered errStoreClosed.
func (c *committer) close() {
	c.closed.Do(func() { close(c.stop) })
	c.wg.Wait()
}

// insert hands row to a batch and waits for its outcome, within the
// store's query timeout (the wait for a batch included). If ctx ends
// first, the caller is answered at once; the row may still commit, and is
// then an access token nobody holds, removed by the janitor at its expiry.
func (c *committer) insert(ctx context.Context, row clientTokenRow) error {
	bctx, cancel := c.s.bound(ctx)
	defer cancel()
	p := &pendingInsert{ctx: bctx, row: row, done: make(chan error, 1)}
	c.waiting.Add(1)
	select {
	case c.queue <- p:
		c.waiting.Add(-1)
	case <-bctx.Done():
		c.waiting.Add(-1)
		return c.s.outage(ctx, bctx.Err())
	case <-c.stop:
		c.waiting.Add(-1)
		return errStoreClosed
	}
	select {
	case err := <-p.done:
		return err
	case <-bctx.Done():
		return c.s.outage(ctx, bctx.Err())
	}
}

func (c *committer) run() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	batch := make([]*pendingInsert, 0, c.cfg.MaxBatch)
	for {
		select {
		case p := <-c.queue:
			batch = c.gather(append(batch[:0], p), timer)
			c.flush(batch)
			clear(batch)
		case <-c.stop:
			return
		}
	}
}

// gather adds to batch the inserts already waiting and, while another batch
// is committing, those that come within the window, up to MaxBatch.
func (c *committer) gather(batch []*pendingInsert, timer *time.Timer) []*pendingInsert {
	for len(batch) < c.cfg.MaxBatch {
		select {
		case p := <-c.queue:
			batch = append(batch, p)
			continue
		default:
		}
		break
	}
	if len(batch) >= c.cfg.MaxBatch || c.cfg.Window <= 0 || c.committing.Load() == 0 {
		return batch
	}
	timer.Reset(c.cfg.Window)
	defer timer.Stop()
	for len(batch) < c.cfg.MaxBatch {
		select {
		case p := <-c.queue:
			batch = append(batch, p)
		case <-timer.C:
			return batch
		case <-c.stop:
			return batch
		}
	}
	return batch
}

// flush commits batch and answers each of its inserts.
func (c *committer) flush(batch []*pendingInsert) {
	live := batch[:0:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.done <- c.s.outage(p.ctx, err)
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	c.commits.Add(1)
	c.tokens.Add(int64(len(live)))
	c.committing.Add(1)
	defer c.committing.Add(-1)
	if len(live) == 1 {
		live[0].done <- c.s.insertAlone(live[0].ctx, live[0].row)
		return
	}
	results, err := c.commitBatch(live)
	switch {
	case err == nil:
		for i, p := range live {
			p.done <- results[i]
		}
	case !unreachable(err):
		// A row the database (or the driver) refused rolled back its
		// batch: each row again on its own, so that only the bad one
		// fails.
		c.retried.Add(1)
		for _, p := range live {
			p.done <- c.s.insertAlone(p.ctx, p.row)
		}
	default:
		// The database did not answer, or the answer to COMMIT was lost:
		// nothing can be said of any row, and retrying 64 of them one
		// by one against a database that is away would only wait longer.
		for _, p := range live {
			p.done <- err
		}
	}
}

// commitBatch writes the rows of batch in one transaction, within the query
// timeout, and returns each row's outcome; err is the batch's failure, in
// which case nothing was committed (or, for an unreachable err, nothing is
// known).
func (c *committer) commitBatch(batch []*pendingInsert) ([]error, error) {
	rows := make([]clientTokenRow, len(batch))
	for i, p := range batch {
		rows[i] = p.row
	}
	// No caller's context: one caller giving up must not fail the others.
	ctx, cancel := c.s.bound(context.Background())
	defer cancel()
	return c.s.commitRows(ctx, rows, c.cfg.Async && !slices.ContainsFunc(rows, func(r clientTokenRow) bool { return r.proof }))
}

// insertAlone writes one client token in a commit of its own.
func (s *Store) insertAlone(ctx context.Context, row clientTokenRow) error {
	if !s.tokenCommit.Async || row.proof {
		tag, err := s.db(ctx).Exec(ctx, row.sql, row.args...)
		return row.result(tag.RowsAffected(), err)
	}
	bctx, cancel := s.bound(ctx)
	defer cancel()
	results, err := s.commitRows(bctx, []clientTokenRow{row}, true)
	if err != nil {
		return classify(err, store.ErrNotFound)
	}
	return results[0]
}

// commitRows runs BEGIN, the rows' inserts and COMMIT in one round trip on
// one connection (async: with synchronous_commit off for this transaction
// alone). It returns each row's outcome if the transaction committed;
// otherwise err, the first failure (a *pgconn.PgError if the database
// refused a statement), wrapped as store.ErrUnavailable if it says the
// database could not be reached.
func (s *Store) commitRows(ctx context.Context, rows []clientTokenRow, async bool) ([]error, error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return nil, s.outage(ctx, err)
	}
	defer release(conn)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if async {
		b.Queue("SET LOCAL synchronous_commit = off")
	}
	for _, r := range rows {
		b.Queue(r.sql, r.args...)
	}
	b.Queue("COMMIT")
	br := conn.SendBatch(ctx, b)
	results := make([]error, len(rows))
	err = func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		if async {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		for i, r := range rows {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			results[i] = r.result(tag.RowsAffected(), nil)
		}
		_, err := br.Exec()
		return err
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A refused statement leaves the transaction open, aborted: end
		// it, or the connection goes back to the pool inside it.
		if conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
			if _, rbErr := conn.Exec(ctx, "ROLLBACK"); rbErr != nil {
				_ = conn.Conn().PgConn().Close(ctx) // release drops it from the pool
			}
		}
		return nil, s.outage(ctx, err)
	}
	return results, nil
}
