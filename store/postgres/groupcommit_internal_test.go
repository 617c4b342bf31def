package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/pgtest"
	"github.com/gatehouse/gatehouse/store"
)

// The group committer on a real database. Each test holds the client_tokens
// table locked (SHARE mode, which every INSERT waits for) from a connection
// of its own while it queues inserts, so what a batch holds is decided by
// the test, not by the scheduler: the committers' first batches wait in
// the database, and everything queued behind them is gathered once the lock
// goes.

type groupCommitEnv struct {
	t      *testing.T
	s      *Store
	dbURL  string
	client string
	lock   pgx.Tx
}

func newGroupCommitEnv(t *testing.T, cfg ClientTokenCommit) *groupCommitEnv {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	s, err := New(t.Context(), dbURL, WithClientTokenCommit(cfg), WithTimeouts(Timeouts{Query: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e := &groupCommitEnv{t: t, s: s, dbURL: dbURL, client: "gc-client"}
	err = s.CreateClient(t.Context(), store.Client{ID: e.client, Name: "group commit", TokenEndpointAuthMethod: "none",
		GrantTypes: []string{"client_credentials"}, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *groupCommitEnv) token(i int) store.Token {
	now := time.Now()
	return store.Token{
		Kind: store.KindAccessToken, Signature: fmt.Sprintf("gc-sig-%s-%d", e.t.Name(), i),
		RequestID: fmt.Sprintf("gc-req-%s-%d", e.t.Name(), i), ClientID: e.client, Subject: e.client,
		GrantedScopes: []string{"gatehouse:api"}, RequestedAt: now, ExpiresAt: now.Add(time.Hour), Active: true,
		Request: json.RawMessage(`{"id": "x"}`),
	}
}

// lockTable blocks every insert into client_tokens until unlockTable.
func (e *groupCommitEnv) lockTable() {
	e.t.Helper()
	conn, err := pgx.Connect(e.t.Context(), e.dbURL)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := tx.Exec(e.t.Context(), `LOCK TABLE client_tokens IN SHARE MODE`); err != nil {
		e.t.Fatal(err)
	}
	e.lock = tx
}

func (e *groupCommitEnv) unlockTable() {
	e.t.Helper()
	if err := e.lock.Rollback(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// waitFor polls cond: the committer's state is observed, not timed.
func (e *groupCommitEnv) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s; committer %+v", what, e.s.GroupCommitStats())
		}
		time.Sleep(time.Millisecond)
	}
}

// start runs CreateClientToken for each token concurrently; wait returns
// their errors, and whether each token was readable the moment its call
// returned.
func (e *groupCommitEnv) start(ctxs []context.Context, toks []store.Token) (wait func() (errs []error, readable []bool)) {
	errs := make([]error, len(toks))
	readable := make([]bool, len(toks))
	var wg sync.WaitGroup
	for i := range toks {
		wg.Go(func() {
			errs[i] = e.s.CreateClientToken(ctxs[i], toks[i])
			if errs[i] == nil {
				got, err := e.s.GetToken(context.Background(), store.KindAccessToken, toks[i].Signature)
				readable[i] = err == nil && got.RequestID == toks[i].RequestID
			}
		})
	}
	return func() ([]error, []bool) { wg.Wait(); return errs, readable }
}

func background(n int) []context.Context {
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = context.Background()
	}
	return ctxs
}

// occupyCommitters starts the first inserts one by one, each once the one
// before is being written (and so waits for the lock), so that each
// committer holds one of them.
func (e *groupCommitEnv) occupyCommitters(ctxs []context.Context, toks []store.Token) []func() ([]error, []bool) {
	e.t.Helper()
	var waits []func() ([]error, []bool)
	before := e.s.GroupCommitStats().Commits
	for i := range committers {
		waits = append(waits, e.start(ctxs[i:i+1], toks[i:i+1]))
		e.waitFor("a committer to write its first insert", func() bool {
			return e.s.GroupCommitStats().Commits == before+int64(i+1)
		})
	}
	return waits
}

// queueBehindLock locks the table, occupies both committers, then queues
// the rest, which are gathered into batches of up to MaxBatch once the lock
// goes.
func (e *groupCommitEnv) queueBehindLock(ctxs []context.Context, toks []store.Token) func() ([]error, []bool) {
	e.t.Helper()
	e.lockTable()
	waits := e.occupyCommitters(ctxs, toks)
	waits = append(waits, e.start(ctxs[committers:], toks[committers:]))
	e.waitFor("the other inserts to queue", func() bool { return e.s.GroupCommitStats().Waiting == int64(len(toks)-committers) })
	return func() ([]error, []bool) {
		var errs []error
		var readable []bool
		for _, w := range waits {
			e, r := w()
			errs, readable = append(errs, e...), append(readable, r...)
		}
		return errs, readable
	}
}

// TestGroupCommitBatches: 130 concurrent inserts take a handful of commits
// (the two that met the lock, then the 128 queued behind them in batches of
// up to 64: two, unless a goroutine was not yet in its select when the
// lock went), each call returning only once its token is committed and
// readable.
func TestGroupCommitBatches(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) {
			e := newGroupCommitEnv(t, ClientTokenCommit{MaxBatch: 64, Async: async})
			const n = committers + 128
			toks := make([]store.Token, n)
			for i := range toks {
				toks[i] = e.token(i)
			}
			wait := e.queueBehindLock(background(n), toks)
			e.unlockTable()
			errs, readable := wait()
			for i := range toks {
				if errs[i] != nil || !readable[i] {
					t.Errorf("token %d: CreateClientToken = %v, readable when it returned: %v", i, errs[i], readable[i])
				}
			}
			var stored int
			if err := e.s.pool.QueryRow(t.Context(), `SELECT count(*) FROM client_tokens`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != n {
				t.Errorf("client_tokens holds %d rows, want %d", stored, n)
			}
			st := e.s.GroupCommitStats()
			if st.Commits < 4 || st.Commits > 8 || st.Tokens != n || st.Retried != 0 {
				t.Errorf("committer: %+v, want 4 to 8 commits of %d tokens, none retried", st, n)
			}
		})
	}
}

// TestGroupCommitBadRow: a row the database refuses (its client does not
// exist; a duplicate signature) fails alone: its batch is retried row by
// row. Two uses of one DPoP proof: one wins, without a retry.
func TestGroupCommitBadRow(t *testing.T) {
	e := newGroupCommitEnv(t, ClientTokenCommit{MaxBatch: 64})
	const n = committers + 20
	toks := make([]store.Token, n)
	for i := range toks {
		toks[i] = e.token(i)
	}
	const orphan, original, dup = committers + 3, committers + 5, committers + 11
	toks[orphan].ClientID = "no-such-client"
	toks[dup].Signature = toks[original].Signature
	wait := e.queueBehindLock(background(n), toks)
	e.unlockTable()
	errs, readable := wait()
	for i := range toks {
		switch i {
		case orphan:
			if !errors.Is(errs[i], store.ErrNotFound) {
				t.Errorf("token of a missing client: %v, want ErrNotFound", errs[i])
			}
		case original, dup:
			// Whichever was written first wins.
		default:
			if errs[i] != nil || !readable[i] {
				t.Errorf("good token %d beside bad ones: %v, readable %v", i, errs[i], readable[i])
			}
		}
	}
	if a, b := errs[original], errs[dup]; (a == nil) == (b == nil) || !errors.Is(errors.Join(a, b), store.ErrConflict) {
		t.Errorf("two tokens with one signature: %v and %v, want one stored and one ErrConflict", a, b)
	}
	retried := e.s.GroupCommitStats().Retried
	if retried < 1 {
		t.Errorf("committer: %+v, want a batch retried", e.s.GroupCommitStats())
	}

	// One DPoP proof twice in a batch.
	digest := sha256.Sum256([]byte(t.Name()))
	proof := &store.DPoPProofUse{JTIHash: digest[:], ExpiresAt: time.Now().Add(time.Minute), Now: time.Now()}
	toks = make([]store.Token, committers+2)
	for i := range toks {
		toks[i] = e.token(100 + i)
	}
	toks[committers].DPoPProof, toks[committers+1].DPoPProof = proof, proof
	wait = e.queueBehindLock(background(len(toks)), toks)
	e.unlockTable()
	errs, _ = wait()
	won, used := 0, 0
	for _, err := range errs[committers:] {
		switch {
		case err == nil:
			won++
		case errors.Is(err, store.ErrDPoPProofUsed):
			used++
		default:
			t.Errorf("a use of one proof: %v", err)
		}
	}
	if won != 1 || used != 1 {
		t.Errorf("two uses of one proof in a batch: %d stored, %d refused as used; want 1 and 1", won, used)
	}
	if st := e.s.GroupCommitStats(); st.Retried != retried {
		t.Errorf("committer: %+v; a used proof retried its batch", st)
	}
}

// TestGroupCommitCancel: an insert whose caller gives up while it waits
// for a batch is answered at once and never written; the batch goes on
// for the others.
func TestGroupCommitCancel(t *testing.T) {
	e := newGroupCommitEnv(t, ClientTokenCommit{MaxBatch: 64, Window: time.Millisecond})
	const n = committers + 6
	toks := make([]store.Token, n)
	ctxs := background(n)
	for i := range toks {
		toks[i] = e.token(i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	const gone = committers + 2
	ctxs[gone] = ctx
	wait := e.queueBehindLock(ctxs, toks)
	cancel()
	e.waitFor("the cancelled insert to leave the queue", func() bool {
		return e.s.GroupCommitStats().Waiting == int64(n-committers-1)
	})
	e.unlockTable()
	errs, readable := wait()
	for i := range toks {
		if i == gone {
			if !errors.Is(errs[i], context.Canceled) || !errors.Is(errs[i], store.ErrUnavailable) {
				t.Errorf("cancelled insert: %v, want context.Canceled as ErrUnavailable", errs[i])
			}
			continue
		}
		if errs[i] != nil || !readable[i] {
			t.Errorf("token %d beside a cancelled one: %v, readable %v", i, errs[i], readable[i])
		}
	}
	if _, err := e.s.GetToken(t.Context(), store.KindAccessToken, toks[gone].Signature); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetToken of the cancelled insert: %v, want ErrNotFound", err)
	}
}

// TestGroupCommitClose: Close waits for the batches in flight, answered as
// they commit, and stops the committers; an insert after it fails at once.
func TestGroupCommitClose(t *testing.T) {
	e := newGroupCommitEnv(t, ClientTokenCommit{MaxBatch: 64})
	toks := []store.Token{e.token(0), e.token(1)}
	e.lockTable()
	waits := e.occupyCommitters(background(2), toks)
	closed := make(chan struct{})
	go func() {
		e.s.commits.close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("close returned while its batches were waiting in the database")
	case <-time.After(50 * time.Millisecond):
	}
	e.unlockTable()
	<-closed
	for i, w := range waits {
		errs, readable := w()
		if errs[0] != nil || !readable[0] {
			t.Errorf("insert %d in flight at close: %v, readable %v", i, errs[0], readable[0])
		}
	}
	if err := e.s.CreateClientToken(t.Context(), e.token(2)); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateClientToken after close: %v, want ErrUnavailable", err)
	}
}

// TestAsyncCommitIsTheTransactionsAlone: an async commit turns
// synchronous_commit off for its own transaction only; a durable one
// leaves it on, and the session keeps it on afterwards.
func TestAsyncCommitIsTheTransactionsAlone(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	s, err := New(t.Context(), dbURL+"&pool_max_conns=1", WithClientTokenCommit(ClientTokenCommit{Async: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// A "row" whose statement affects one row only if the setting is off.
	probe := clientTokenRow{sql: `SELECT 1 WHERE current_setting('synchronous_commit') = 'off'`}
	for _, async := range []bool{true, false} {
		results, err := s.commitRows(t.Context(), []clientTokenRow{probe, probe}, async)
		if err != nil {
			t.Fatalf("commitRows async=%v: %v", async, err)
		}
		for i, r := range results {
			if off := r == nil; off != async {
				t.Errorf("async=%v: statement %d saw synchronous_commit off = %v", async, i, off)
			}
		}
		var setting string
		if err := s.db(t.Context()).QueryRow(t.Context(), `SHOW synchronous_commit`).Scan(&setting); err != nil {
			t.Fatal(err)
		}
		if setting != "on" {
			t.Errorf("after a commit with async=%v the session has synchronous_commit = %q, want on", async, setting)
		}
	}

	// An async committer's batch is durable if one of its rows records a
	// DPoP proof's use.
	c := &committer{s: s, cfg: ClientTokenCommit{MaxBatch: 2, Async: true}}
	withProof := probe
	withProof.proof = true
	for _, tc := range []struct {
		rows []clientTokenRow
		off  bool
	}{{[]clientTokenRow{probe, probe}, true}, {[]clientTokenRow{probe, withProof}, false}} {
		batch := []*pendingInsert{{row: tc.rows[0]}, {row: tc.rows[1]}}
		results, err := c.commitBatch(batch)
		if err != nil {
			t.Fatalf("commitBatch: %v", err)
		}
		for i, r := range results {
			if off := r == nil; off != tc.off {
				t.Errorf("batch with a proof %v: statement %d saw synchronous_commit off = %v, want %v", tc.rows[1].proof, i, off, tc.off)
			}
		}
	}
	if err := s.insertAlone(t.Context(), withProof); !errors.Is(err, store.ErrDPoPProofUsed) {
		t.Errorf("a single row with a proof, async: %v, want the probe to find synchronous_commit on", err)
	}
}
