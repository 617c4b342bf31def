package keys_test

// Temporary fake of store.SigningKeys used until store/memory and
// store/postgres compile. DELETE before finishing.

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

type fakeStore struct {
	mu   sync.Mutex
	keys []store.SigningKey
}

func (f *fakeStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]store.SigningKey, len(f.keys))
	for i, k := range f.keys {
		k.PrivateKey = slices.Clone(k.PrivateKey)
		out[i] = k
	}
	return out, nil
}

func (f *fakeStore) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.keys {
		if e.ID == k.ID || e.State == k.State {
			return store.ErrConflict
		}
	}
	f.keys = append(f.keys, k)
	return nil
}

func (f *fakeStore) RotateSigningKeys(ctx context.Context, expectActive, expectNext string, newNext store.SigningKey, retireUntil time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ai, ni := -1, -1
	for i, e := range f.keys {
		switch e.State {
		case store.KeyActive:
			ai = i
		case store.KeyNext:
			ni = i
		}
	}
	if ai < 0 || ni < 0 || f.keys[ai].ID != expectActive || f.keys[ni].ID != expectNext {
		return store.ErrConflict
	}
	f.keys[ai].State = store.KeyRetired
	f.keys[ai].VerifyUntil = &retireUntil
	f.keys[ni].State = store.KeyActive
	newNext.State = store.KeyNext
	f.keys = append(f.keys, newNext)
	return nil
}

func (f *fakeStore) DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	f.keys = slices.DeleteFunc(f.keys, func(k store.SigningKey) bool {
		del := k.State == store.KeyRetired && k.VerifyUntil.Before(now)
		if del {
			n++
		}
		return del
	})
	return n, nil
}
