package cache_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// tokenLoader stands for the database: it counts reads and returns an
// active token of the grant owner names.
type tokenLoader struct {
	calls int
	owner cache.TokenOwner
	// active false: the token is revoked, nothing may be cached.
	inactive bool
	during   func()
}

func (l *tokenLoader) load() (string, cache.TokenOwner, bool, error) {
	l.calls++
	if l.during != nil {
		l.during()
	}
	return "request", l.owner, !l.inactive, nil
}

func newTokens(clk *fakeclock.Clock, maxEntries int) *cache.Tokens[string] {
	return cache.NewTokens[string](cache.TokenOptions{Max: maxEntries, TTL: time.Hour, Hold: time.Minute, Live: true, Now: clk.Now})
}

func mustGet(t *testing.T, c *cache.Tokens[string], key string, l *tokenLoader) {
	t.Helper()
	if _, err := c.Get(key, l.load); err != nil {
		t.Fatal(err)
	}
}

func TestTokensAreServedUntilTheirExpiry(t *testing.T) {
	clk := fakeclock.New(t0)
	c := newTokens(clk, 10)
	l := &tokenLoader{owner: cache.TokenOwner{RequestID: "g1", ExpiresAt: t0.Add(time.Minute)}}
	mustGet(t, c, "sig", l)
	mustGet(t, c, "sig", l)
	if l.calls != 1 {
		t.Fatalf("loads = %d, want 1 (second read from the cache)", l.calls)
	}
	clk.Advance(time.Minute)
	mustGet(t, c, "sig", l)
	if l.calls != 2 {
		t.Fatalf("loads = %d after the token's expiry, want 2: an entry must not outlive its token", l.calls)
	}
}

func TestTokensTTLBoundsLongLivedTokens(t *testing.T) {
	clk := fakeclock.New(t0)
	c := newTokens(clk, 10)
	l := &tokenLoader{owner: cache.TokenOwner{RequestID: "g1", ExpiresAt: t0.Add(48 * time.Hour)}}
	mustGet(t, c, "sig", l)
	clk.Advance(time.Hour)
	mustGet(t, c, "sig", l)
	if l.calls != 2 {
		t.Fatalf("loads = %d, want 2 (the TTL ended the entry)", l.calls)
	}
}

func TestInactiveTokensAreNotCached(t *testing.T) {
	clk := fakeclock.New(t0)
	c := newTokens(clk, 10)
	l := &tokenLoader{owner: cache.TokenOwner{RequestID: "g1", ExpiresAt: t0.Add(time.Hour)}, inactive: true}
	mustGet(t, c, "sig", l)
	mustGet(t, c, "sig", l)
	if l.calls != 2 || c.Len() != 0 {
		t.Fatalf("loads = %d, entries = %d; want 2 and 0", l.calls, c.Len())
	}
}

func TestTokensAreBounded(t *testing.T) {
	clk := fakeclock.New(t0)
	c := newTokens(clk, 5)
	for i := range 50 {
		l := &tokenLoader{owner: cache.TokenOwner{RequestID: fmt.Sprint(i), ExpiresAt: t0.Add(time.Hour)}}
		mustGet(t, c, fmt.Sprint("sig", i), l)
		if c.Len() > 5 {
			t.Fatalf("%d entries after %d loads, want at most 5", c.Len(), i+1)
		}
	}
	if c.Len() != 5 {
		t.Fatalf("%d entries, want 5", c.Len())
	}
}

func TestTokensInvalidateByOwner(t *testing.T) {
	owner := cache.TokenOwner{RequestID: "g1", UserID: "u1", SessionID: "s1", ClientID: "c1", ExpiresAt: t0.Add(time.Hour)}
	for _, tc := range []struct {
		name  string
		scope cache.TokenScope
		id    string
		other string
	}{
		{"grant", cache.ByRequest, "g1", "g2"},
		{"user", cache.ByUser, "u1", "u2"},
		{"session", cache.BySession, "s1", "s2"},
		{"client", cache.ByClient, "c1", "c2"},
		{"all", cache.ByRequest, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := fakeclock.New(t0)
			c := newTokens(clk, 10)
			l := &tokenLoader{owner: owner}
			mustGet(t, c, "sig", l)
			if tc.other != "" {
				c.Invalidate(tc.scope, tc.other)
				mustGet(t, c, "sig", l)
				if l.calls != 1 {
					t.Fatalf("another owner's invalidation dropped the entry")
				}
			}
			c.Invalidate(tc.scope, tc.id)
			mustGet(t, c, "sig", l)
			if l.calls != 2 {
				t.Fatalf("loads = %d after Invalidate(%v, %q), want 2", l.calls, tc.scope, tc.id)
			}
		})
	}
}

// The race the generation closes: a load reads the token active, the
// revocation commits and is announced while the load is on its way back;
// the load must not store what it read.
func TestTokensLoadRacingAnInvalidationIsNotStored(t *testing.T) {
	clk := fakeclock.New(t0)
	c := newTokens(clk, 10)
	l := &tokenLoader{owner: cache.TokenOwner{RequestID: "g1", ExpiresAt: t0.Add(time.Hour)}}
	// Even an invalidation of another grant: the generation is global,
	// so the load cannot know which rows the change touched.
	l.during = func() { c.Invalidate(cache.ByRequest, "g1") }
	mustGet(t, c, "sig", l)
	l.during = nil
	if c.Len() != 0 {
		t.Fatal("a load that raced an invalidation was stored")
	}
	mustGet(t, c, "sig", l)
	mustGet(t, c, "sig", l)
	if l.calls != 2 {
		t.Fatalf("loads = %d, want 2", l.calls)
	}
}

// A hold (a revocation written, not yet committed) keeps the grant's
// tokens out of the cache until it ends, whatever is loaded meanwhile.
func TestTokensHold(t *testing.T) {
	clk := fakeclock.New(t0)
	c := newTokens(clk, 10)
	l := &tokenLoader{owner: cache.TokenOwner{RequestID: "g1", UserID: "u1", ExpiresAt: t0.Add(time.Hour)}}
	mustGet(t, c, "sig", l)
	c.Hold(cache.ByUser, "u1")
	mustGet(t, c, "sig", l)
	mustGet(t, c, "sig", l)
	if l.calls != 3 || c.Len() != 0 {
		t.Fatalf("loads = %d, entries = %d during the hold; want 3 and 0", l.calls, c.Len())
	}
	clk.Advance(time.Minute)
	mustGet(t, c, "sig", l)
	mustGet(t, c, "sig", l)
	if l.calls != 4 {
		t.Fatalf("loads = %d after the hold, want 4 (cached again)", l.calls)
	}
}

// Not live (the feed not connected or lost): every lookup loads, nothing
// is stored; going live again starts empty.
func TestTokensNotLiveBypasses(t *testing.T) {
	clk := fakeclock.New(t0)
	c := cache.NewTokens[string](cache.TokenOptions{Max: 10, Now: clk.Now})
	l := &tokenLoader{owner: cache.TokenOwner{RequestID: "g1", ExpiresAt: t0.Add(time.Hour)}}
	mustGet(t, c, "sig", l)
	mustGet(t, c, "sig", l)
	if l.calls != 2 || c.Len() != 0 {
		t.Fatalf("before the feed is live: loads = %d, entries = %d; want 2 and 0", l.calls, c.Len())
	}
	c.SetLive(true)
	mustGet(t, c, "sig", l)
	mustGet(t, c, "sig", l)
	if l.calls != 3 {
		t.Fatalf("live: loads = %d, want 3", l.calls)
	}
	c.SetLive(false)
	mustGet(t, c, "sig", l)
	if l.calls != 4 || c.Len() != 0 {
		t.Fatalf("feed lost: loads = %d, entries = %d; want 4 and 0", l.calls, c.Len())
	}
	// A load that began while live and ends after the feed was lost.
	c.SetLive(true)
	l.during = func() { c.SetLive(false); c.SetLive(true) }
	c.InvalidateAll()
	mustGet(t, c, "sig", l)
	if c.Len() != 0 {
		t.Fatal("a load that raced a reconnection was stored")
	}
}

// Under concurrent loads and revocations, no entry survives the
// invalidation of its grant that followed the revocation: the property
// the generation gives, checked with the race detector's help.
func TestTokensConcurrentRevocations(t *testing.T) {
	c := cache.NewTokens[bool](cache.TokenOptions{Max: 100, Live: true})
	var mu sync.Mutex
	revoked := map[string]bool{} // the "database"
	load := func(key string) func() (bool, cache.TokenOwner, bool, error) {
		return func() (bool, cache.TokenOwner, bool, error) {
			mu.Lock()
			active := !revoked[key]
			mu.Unlock()
			return active, cache.TokenOwner{RequestID: key, ExpiresAt: time.Now().Add(time.Hour)}, active, nil
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprint("g", (i+w)%20)
				if _, err := c.Get(key, load(key)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 20 {
		key := fmt.Sprint("g", i)
		mu.Lock()
		revoked[key] = true // committed
		mu.Unlock()
		c.Invalidate(cache.ByRequest, key) // announced
		// From here on the token must never be reported active.
		for range 50 {
			active, err := c.Get(key, load(key))
			if err != nil || active {
				t.Fatalf("%s reported active after its revocation was announced", key)
			}
		}
	}
	close(stop)
	wg.Wait()
}
