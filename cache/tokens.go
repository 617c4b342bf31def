package cache

import (
	"sync"
	"time"
)

// DefaultHold is how long a Hold keeps the tokens it names out of the
// cache: long enough for the revoking transaction to commit and its
// notification to come back through the change feed.
const DefaultHold = 10 * time.Second

// TokenOwner says what a cached token belongs to, so that an invalidation
// naming its grant, user, login session or client drops it.
type TokenOwner struct {
	RequestID string
	UserID    string
	SessionID string
	ClientID  string
	// ExpiresAt is when the token expires: its entry expires then at the
	// latest.
	ExpiresAt time.Time
	// Actor is who acts through a token made by token exchange (its act,
	// "user:<id>" or "client:<id>"), whose loss of the right to act ends
	// the token; "" for none.
	Actor string
}

// TokenScope names the tokens an invalidation covers: those whose owner
// field of the kind has the value ID.
type TokenScope int

const (
	ByRequest TokenScope = iota
	ByUser
	BySession
	ByClient
	// ByActor: the tokens acted through by the actor; an empty id, every
	// token that has an actor (not every token).
	ByActor
)

func (o TokenOwner) field(s TokenScope) string {
	switch s {
	case ByRequest:
		return o.RequestID
	case ByUser:
		return o.UserID
	case BySession:
		return o.SessionID
	case ByActor:
		return o.Actor
	default:
		return o.ClientID
	}
}

// TokenOptions configure a Tokens cache.
type TokenOptions struct {
	// Max bounds the number of entries; when full, an arbitrary entry is
	// evicted. It must be positive.
	Max int
	// TTL bounds the life of an entry whose token lives longer (default
	// DefaultTTL): a safety net for a missed invalidation.
	TTL time.Duration
	// Hold is how long a Hold lasts (default DefaultHold).
	Hold time.Duration
	// Live: the cache starts serving at once. Without it, it serves
	// nothing until SetLive(true): a cache fed by a change feed must not
	// serve before the feed is connected.
	Live     bool
	Now      func() time.Time
	Name     string
	Recorder Recorder
}

// Tokens caches active tokens by their signature, for introspection,
// safe against revocation:
//
//   - gen counts invalidations: a load stores its value only if no
//     invalidation happened while it ran, since it may have read the row
//     just before the revocation that was meant to remove it;
//   - a Hold keeps a grant's (user's, session's) tokens out of the cache
//     from the moment a revocation is written until it has surely
//     committed and been announced, because a load between the write and
//     the commit still reads the token active;
//   - while the feed is not live (not yet connected, or lost), nothing is
//     served or stored: changes made elsewhere would go unheard.
type Tokens[V any] struct {
	max  int
	ttl  time.Duration
	hold time.Duration
	now  func() time.Time
	name string
	rec  Recorder

	mu      sync.Mutex
	live    bool
	gen     uint64
	entries map[string]tokenEntry[V]
	// holds maps a scope and id to when the hold ends.
	holds map[scopeKey]time.Time
}

type scopeKey struct {
	scope TokenScope
	id    string
}

type tokenEntry[V any] struct {
	value   V
	owner   TokenOwner
	expires time.Time
}

// NewTokens returns an empty cache.
func NewTokens[V any](opts TokenOptions) *Tokens[V] {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Hold <= 0 {
		opts.Hold = DefaultHold
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Recorder == nil {
		opts.Recorder = noRecorder{}
	}
	return &Tokens[V]{
		max: max(opts.Max, 1), ttl: opts.TTL, hold: opts.Hold, now: opts.Now, name: opts.Name, rec: opts.Recorder,
		live: opts.Live, entries: map[string]tokenEntry[V]{}, holds: map[scopeKey]time.Time{},
	}
}

// heldLocked reports whether a hold covers o. Expired holds are dropped.
func (c *Tokens[V]) heldLocked(o TokenOwner, now time.Time) bool {
	if len(c.holds) == 0 {
		return false
	}
	held := false
	if o.Actor != "" {
		// A hold of every actor's tokens (Hold(ByActor, "")).
		k := scopeKey{ByActor, ""}
		if until, ok := c.holds[k]; ok {
			if now.Before(until) {
				held = true
			} else {
				delete(c.holds, k)
			}
		}
	}
	for _, s := range []TokenScope{ByRequest, ByUser, BySession, ByClient, ByActor} {
		id := o.field(s)
		if id == "" {
			continue
		}
		k := scopeKey{s, id}
		if until, ok := c.holds[k]; ok {
			if now.Before(until) {
				held = true
			} else {
				delete(c.holds, k)
			}
		}
	}
	return held
}

// Get returns the value cached for key or, on a miss, calls load. load
// reports whether its value may be cached (an active token) and whom it
// belongs to. A value is stored only if the cache is live, no invalidation
// happened while load ran, no hold covers it and it has not expired.
// Errors are not cached.
func (c *Tokens[V]) Get(key string, load func() (V, TokenOwner, bool, error)) (V, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	live, gen := c.live, c.gen
	if ok && live && now.Before(e.expires) && !c.heldLocked(e.owner, now) {
		c.mu.Unlock()
		c.rec.CacheLookup(c.name, true)
		return e.value, nil
	}
	if ok {
		delete(c.entries, key)
	}
	c.mu.Unlock()
	c.rec.CacheLookup(c.name, false)
	v, owner, cacheable, err := load()
	if err != nil || !cacheable || !live {
		return v, err
	}
	expires := now.Add(c.ttl)
	if owner.ExpiresAt.Before(expires) {
		expires = owner.ExpiresAt
	}
	if !now.Before(expires) {
		return v, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen || c.heldLocked(owner, c.now()) {
		return v, nil
	}
	if _, exists := c.entries[key]; !exists && len(c.entries) >= c.max {
		// Map iteration starts at a random entry: a random eviction,
		// which needs no bookkeeping on the hit path.
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = tokenEntry[V]{value: v, owner: owner, expires: expires}
	return v, nil
}

// Invalidate drops the tokens of the scope's id and makes loads under way
// not store theirs. An empty id drops every token (ByActor: every token
// that has an actor).
func (c *Tokens[V]) Invalidate(s TokenScope, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if id == "" && s != ByActor {
		clear(c.entries)
		return
	}
	for k, e := range c.entries {
		if v := e.owner.field(s); (id != "" && v == id) || (id == "" && v != "") {
			delete(c.entries, k)
		}
	}
}

// Hold is Invalidate for a revocation not yet committed: the scope's
// tokens are also kept out of the cache (neither served nor stored) for
// the hold's duration, until the commit is surely visible to every load.
func (c *Tokens[V]) Hold(s TokenScope, id string) {
	if id == "" && s != ByActor {
		c.InvalidateAll()
		return
	}
	c.Invalidate(s, id)
	c.mu.Lock()
	c.holds[scopeKey{s, id}] = c.now().Add(c.hold)
	c.mu.Unlock()
}

// InvalidateAll drops every entry and makes loads under way not store
// theirs.
func (c *Tokens[V]) InvalidateAll() { c.Invalidate(ByRequest, "") }

// SetLive turns serving on or off; either way every entry is dropped: what
// was cached before a feed (re)connected may have been revoked meanwhile.
func (c *Tokens[V]) SetLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.entries)
}

// Len returns how many entries are held, expired ones included.
func (c *Tokens[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
