package postgres

import (
	"encoding/json"
	"sync"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.TokenObserver = (*Store)(nil)

// tokenObservers are told of this process's revocations of access tokens
// as they are written (store.TokenObserver); other processes hear of them
// through the notification each revoking statement sends on
// changeChannel, delivered at its commit (Listen).
type tokenObservers struct {
	mu  sync.RWMutex
	fns []func(store.ChangeEvent)
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

// tokenNotice is the payload of the notification a revoking statement
// sends (pg_notify inside the statement itself, so that it is delivered
// if and only if the revocation commits, and costs no round trip). An id
// too long for a notification becomes "": every token.
func tokenNotice(kind store.ChangeKind, id string) string {
	if len(id) > 1000 {
		id = ""
	}
	b, _ := json.Marshal(struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	}{string(kind), id})
	return string(b)
}
