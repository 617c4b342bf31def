package memory

import (
	"sync"

	"github.com/gatehouse/gatehouse/store"
)

var _ store.TokenObserver = (*Store)(nil)

// tokenObservers are told of revocations of access tokens once they are
// written (store.TokenObserver). In this store a write is visible to every
// reader as soon as it is made (a transaction holds the store lock until
// it ends), so telling them after the write is telling them in time: the
// process's introspection cache is all there is to invalidate.
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

// principalChanged tells the observers of a write that changed what a
// user may do (store.ChangeUser, store.ChangeGroup), once it has succeeded.
func (s *Store) principalChanged(err error, kind store.ChangeKind, id string) error {
	if err == nil {
		if c, ok := canonicalUUID(id); ok {
			id = c
		}
		s.tokensChanged(kind, id)
	}
	return err
}

func (s *Store) tokensChanged(kind store.ChangeKind, id string) {
	s.observers.mu.RLock()
	defer s.observers.mu.RUnlock()
	for _, fn := range s.observers.fns {
		fn(store.ChangeEvent{Kind: kind, ID: id})
	}
}
