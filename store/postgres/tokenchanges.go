package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.TokenObserver = (*Store)(nil)

// Revocations of access tokens, and what every instance's introspection
// cache learns of them:
//
//   - this process's observers are told as the revocation is written
//     (store.TokenObserver), before it commits;
//   - every instance's listener hears of it at its commit: the revoking
//     statement sends the notification itself (pg_notify inside it), so
//     that it is delivered if and only if the revocation commits, at no
//     extra round trip;
//   - the revoking call does not return until every instance's listener
//     has applied it (the barrier): each listener, once it has dropped
//     what the notification names, acknowledges it on ackChannel, and
//     the revoker waits for the acknowledgement of every listener session
//     the database has (pg_stat_activity, by the listeners' application
//     name). Without it, a client told "revoked" could ask another
//     instance before that instance's listener had been told: a race the
//     two-instance test loses within a few rounds.

// defaultBarrierWait bounds the wait for the own listener's copy of a
// notification (WithBarrierWait): a listener that does not deliver it in
// this time is as good as lost, which its own loss announcement deals with.
const defaultBarrierWait = 2 * time.Second

// tokenObservers are the observers of ObserveTokenChanges.
type tokenObservers struct {
	mu  sync.RWMutex
	fns []func(store.ChangeEvent)
}

// ackChannel carries the listeners' acknowledgements.
const ackChannel = "gatehouse_acks"

// barrier matches the acknowledgements this store's listener receives to
// the revocations waiting for them, by the nonce each payload carries.
type barrier struct {
	mu sync.Mutex
	// listening counts this store's listener sessions; without one
	// nothing will arrive, and nobody waits.
	listening int
	waiters   map[string]*waiter
	// timeouts counts the waits that ran out before every listener had
	// acknowledged.
	timeouts atomic.Int64
}

// waiter is one revocation waiting for its acknowledgements.
type waiter struct {
	done chan struct{}
	// acks are the listener backends that acknowledged; need, once known,
	// those that must.
	acks map[uint32]bool
	need []uint32
}

func (w *waiter) satisfied() bool {
	if w.need == nil {
		return false
	}
	for _, pid := range w.need {
		if !w.acks[pid] {
			return false
		}
	}
	return true
}

// expect registers nonce before its notification can be sent, and returns
// the channel closed when every listener has acknowledged it (or this
// store's listener is lost); nil when no listener is connected.
func (b *barrier) expect(nonce string) chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.listening == 0 {
		return nil
	}
	if b.waiters == nil {
		b.waiters = map[string]*waiter{}
	}
	w := &waiter{done: make(chan struct{}), acks: map[uint32]bool{}}
	b.waiters[nonce] = w
	return w.done
}

// need records which listener backends must acknowledge nonce.
func (b *barrier) needs(nonce string, pids []uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.waiters[nonce]
	if !ok {
		return
	}
	w.need = append([]uint32{}, pids...)
	if w.satisfied() {
		close(w.done)
		delete(b.waiters, nonce)
	}
}

func (b *barrier) forget(nonce string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.waiters, nonce)
}

// acked is called by the listener for each acknowledgement it receives:
// the listener backend pid has applied the notification of nonce.
func (b *barrier) acked(nonce string, pid uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w, ok := b.waiters[nonce]
	if !ok {
		return
	}
	w.acks[pid] = true
	if w.satisfied() {
		close(w.done)
		delete(b.waiters, nonce)
	}
}

// connected records a listener session that has begun listening.
func (b *barrier) connected() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listening++
}

// lost records the end of a listener session. Every waiter is released:
// what it waits for may never arrive.
func (b *barrier) lost() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listening--
	for n, w := range b.waiters {
		close(w.done)
		delete(b.waiters, n)
	}
}

// await waits for the acknowledgements of nonce by every listener the
// database has (ch from expect), at most the barrier wait. It runs after the
// commit, so the listeners it finds are all that could have cached what
// was revoked, or connected since (and flushed everything on connecting).
func (s *Store) await(ctx context.Context, nonce string, ch chan struct{}) {
	if ch == nil {
		return
	}
	s.awaitListeners(ctx, nonce, ch, s.findListeners(ctx))
}

// listenersSelect finds the listener sessions named $1.
const listenersSelect = `SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity
	WHERE datname = current_database() AND application_name = $1`

// findListeners returns the listener sessions the database has now.
func (s *Store) findListeners(ctx context.Context) []uint32 {
	var pids []uint32
	// Outside the transaction ctx may still carry (committed by now), with
	// the pool's deadlines.
	outside := context.WithValue(ctx, txKey{s}, nil)
	err := s.db(outside).QueryRow(outside, listenersSelect, s.listenerName()).Scan(&pids)
	if err != nil {
		// Who must acknowledge is unknown: wait for the bound.
		pids = []uint32{0}
	}
	return pids
}

// awaitListeners is await with the listener sessions found already (pids,
// looked up after the commit).
func (s *Store) awaitListeners(ctx context.Context, nonce string, ch chan struct{}, pids []uint32) {
	if ch == nil {
		return
	}
	s.feed.needs(nonce, pids)
	wait := s.barrierWait
	if wait <= 0 {
		wait = defaultBarrierWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		s.feed.timeouts.Add(1)
	case <-ctx.Done():
	}
	// Satisfied waiters are gone already; one that timed out must not stay.
	s.feed.forget(nonce)
}

// pendingKey carries, in a transaction's context, the notifications its
// revocations sent: the commit of the outermost transaction waits for
// them; a rollback forgets them.
type pendingKey struct{ s *Store }

type pending struct {
	parent *pending
	mu     sync.Mutex
	nonces []string
	chans  []chan struct{}
}

func (p *pending) add(nonce string, ch chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nonces = append(p.nonces, nonce)
	p.chans = append(p.chans, ch)
}

// withPending returns ctx with a fresh pending list for a transaction just
// begun inside whatever ctx carries.
func (s *Store) withPending(ctx context.Context) context.Context {
	parent, _ := ctx.Value(pendingKey{s}).(*pending)
	return context.WithValue(ctx, pendingKey{s}, &pending{parent: parent})
}

// committed hands a committed savepoint's notifications to its
// transaction, or, for the outermost transaction, waits for them.
func (s *Store) committed(ctx context.Context) { s.committedKnowing(ctx, nil) }

// awaitsListeners reports whether the commit of the outermost transaction
// ctx carries will wait for listeners' acknowledgements.
func (s *Store) awaitsListeners(ctx context.Context) bool {
	p, ok := ctx.Value(pendingKey{s}).(*pending)
	if !ok || p.parent != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ch := range p.chans {
		if ch != nil {
			return true
		}
	}
	return false
}

// committedKnowing is committed with, when not nil, the listener sessions
// found with the commit (commit.go), which spares each wait its look-up.
func (s *Store) committedKnowing(ctx context.Context, pids []uint32) {
	p, ok := ctx.Value(pendingKey{s}).(*pending)
	if !ok {
		return
	}
	p.mu.Lock()
	nonces, chans := p.nonces, p.chans
	p.nonces, p.chans = nil, nil
	p.mu.Unlock()
	if p.parent != nil {
		for i := range nonces {
			p.parent.add(nonces[i], chans[i])
		}
		return
	}
	for i, ch := range chans {
		if pids != nil {
			s.awaitListeners(ctx, nonces[i], ch, pids)
		} else {
			s.await(ctx, nonces[i], ch)
		}
	}
}

// rolledBack forgets the notifications of what was rolled back: they will
// never be sent.
func (s *Store) rolledBack(ctx context.Context) {
	p, ok := ctx.Value(pendingKey{s}).(*pending)
	if !ok {
		return
	}
	p.mu.Lock()
	nonces := p.nonces
	p.nonces, p.chans = nil, nil
	p.mu.Unlock()
	for _, n := range nonces {
		s.feed.forget(n)
	}
}

// ObserveTokenChanges implements store.TokenObserver.
func (s *Store) ObserveTokenChanges(fn func(store.ChangeEvent)) {
	s.observers.mu.Lock()
	defer s.observers.mu.Unlock()
	s.observers.fns = append(s.observers.fns, fn)
}

// tokensChanged tells the observers of a revocation just written.
func (s *Store) tokensChanged(kind store.ChangeKind, id string) {
	s.observers.mu.RLock()
	defer s.observers.mu.RUnlock()
	for _, fn := range s.observers.fns {
		fn(store.ChangeEvent{Kind: kind, ID: id})
	}
}

// notice is one revocation's notification, prepared before its statement
// runs.
type notice struct {
	s       *Store
	kind    store.ChangeKind
	id      string
	nonce   string
	payload string
	ch      chan struct{}
}

// announce prepares the notification of a revocation of the access tokens
// of kind and id; its statement sends payload (or builds one with nonce),
// then done is called with the statement's error. An id too long for a
// notification becomes "": every token.
func (s *Store) announce(kind store.ChangeKind, id string) *notice {
	var b [12]byte
	_, _ = rand.Read(b[:])
	n := &notice{s: s, kind: kind, id: id, nonce: hex.EncodeToString(b[:])}
	if len(id) > 1000 {
		id = ""
	}
	p, _ := json.Marshal(struct {
		Kind  string `json:"kind"`
		ID    string `json:"id"`
		Nonce string `json:"n"`
	}{string(kind), id, n.nonce})
	n.payload = string(p)
	n.ch = s.feed.expect(n.nonce)
	return n
}

// done finishes a revocation whose statement returned err: on success the
// observers are told, and the barrier is passed, now or (inside a
// transaction) when the outermost transaction commits. id replaces the
// notice's id when not empty (a statement that found it).
func (n *notice) done(ctx context.Context, err error, id string) error {
	if err != nil {
		n.s.feed.forget(n.nonce)
		return err
	}
	if id == "" {
		id = n.id
	}
	n.s.tokensChanged(n.kind, id)
	if p, ok := ctx.Value(pendingKey{n.s}).(*pending); ok {
		if _, inTx := n.s.tx(ctx); inTx {
			p.add(n.nonce, n.ch)
			return nil
		}
	}
	n.s.await(ctx, n.nonce, n.ch)
	return nil
}
