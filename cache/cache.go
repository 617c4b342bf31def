package cache

import (
	"sync"
	"time"
)

// DefaultTTL is the safety-net lifetime of an entry.
const DefaultTTL = 5 * time.Minute

// Options configure a Cache. Zero fields take the defaults.
type Options struct {
	// TTL is how long an entry is trusted without an invalidation
	// (default DefaultTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Name and Recorder: when Recorder is set, every Get is reported to it
	// as a hit or a miss of the cache called Name (nil: not reported).
	Name     string
	Recorder Recorder
}

// Recorder is told of every lookup (telemetry counts them).
type Recorder interface {
	CacheLookup(name string, hit bool)
}

// noRecorder is the Recorder of a cache nobody watches.
type noRecorder struct{}

func (noRecorder) CacheLookup(string, bool) {}

// Cache maps keys to loaded values. It is safe for concurrent use. Values
// are shared between callers, who must not modify them.
type Cache[K comparable, V any] struct {
	ttl  time.Duration
	now  func() time.Time
	name string
	rec  Recorder

	mu sync.RWMutex
	// gen counts invalidations. A load stores its value only if gen has
	// not moved while it ran: otherwise it may have read the record just
	// before the change that invalidated it, and would cache the old value
	// after the invalidation meant to remove it.
	gen     uint64
	entries map[K]entry[V]
}

type entry[V any] struct {
	value    V
	loadedAt time.Time
}

// New returns an empty cache.
func New[K comparable, V any](opts Options) *Cache[K, V] {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Recorder == nil {
		opts.Recorder = noRecorder{}
	}
	return &Cache[K, V]{ttl: opts.TTL, now: opts.Now, name: opts.Name, rec: opts.Recorder, entries: map[K]entry[V]{}}
}

// Get returns the value cached for key or, if there is none (or it is
// older than the TTL), calls load and caches what it returns. Errors are
// not cached, nor is anything a load returns when an invalidation happened
// while it ran; such a caller still gets the value it loaded. Concurrent
// misses of one key each call load.
func (c *Cache[K, V]) Get(key K, load func() (V, error)) (V, error) {
	c.mu.RLock()
	e, ok := c.entries[key]
	gen := c.gen
	c.mu.RUnlock()
	now := c.now()
	if ok && now.Sub(e.loadedAt) < c.ttl && !now.Before(e.loadedAt) {
		c.rec.CacheLookup(c.name, true)
		return e.value, nil
	}
	c.rec.CacheLookup(c.name, false) // an expired entry is a miss too
	v, err := load()
	if err != nil {
		var zero V
		return zero, err
	}
	c.mu.Lock()
	if c.gen == gen {
		// Stamped with the time before the load: the value is at least
		// that old.
		c.entries[key] = entry[V]{value: v, loadedAt: now}
	}
	c.mu.Unlock()
	return v, nil
}

// Invalidate drops key's entry and makes loads under way not store theirs.
func (c *Cache[K, V]) Invalidate(key K) {
	c.mu.Lock()
	c.gen++
	delete(c.entries, key)
	c.mu.Unlock()
}

// InvalidateAll drops every entry and makes loads under way not store
// theirs.
func (c *Cache[K, V]) InvalidateAll() {
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
}

// Len returns how many entries are held, expired ones included.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
