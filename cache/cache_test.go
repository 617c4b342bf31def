package cache_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/internal/fakeclock"
)

// loader counts its calls and returns the current value of a record.
type loader struct {
	mu    sync.Mutex
	calls int
	value string
	err   error
	// during runs inside the load, after the record is read: it stands
	// for a change committed while the load was on its way back.
	during func()
}

func (l *loader) load() (string, error) {
	l.mu.Lock()
	l.calls++
	v, err, during := l.value, l.err, l.during
	l.mu.Unlock()
	if during != nil {
		during()
	}
	return v, err
}

func (l *loader) set(v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.value = v
}

func (l *loader) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

func get(t *testing.T, c *cache.Cache[string, string], key string, l *loader) string {
	t.Helper()
	v, err := c.Get(key, l.load)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func TestGetLoadsOnceUntilInvalidated(t *testing.T) {
	clk := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	c := cache.New[string, string](cache.Options{TTL: time.Minute, Now: clk.Now})
	l := &loader{value: "v1"}

	tests := []struct {
		name      string
		before    func()
		want      string
		wantCalls int
	}{
		{"first get loads", func() {}, "v1", 1},
		{"second get is served from the cache", func() {}, "v1", 1},
		{"a change without invalidation is not seen", func() { l.set("v2") }, "v1", 1},
		{"invalidating the key reloads it", func() { c.Invalidate("k") }, "v2", 2},
		{"invalidating another key keeps it", func() { l.set("v3"); c.Invalidate("other") }, "v2", 2},
		{"invalidating all reloads it", func() { c.InvalidateAll() }, "v3", 3},
		{"within the TTL it is kept", func() { l.set("v4"); clk.Advance(59 * time.Second) }, "v3", 3},
		{"after the TTL it is reloaded", func() { clk.Advance(time.Second) }, "v4", 4},
		{"a clock that went back reloads", func() { l.set("v5"); clk.Advance(-time.Hour) }, "v5", 5},
	}
	for _, tc := range tests {
		tc.before()
		if got := get(t, c, "k", l); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
		if got := l.count(); got != tc.wantCalls {
			t.Errorf("%s: %d loads, want %d", tc.name, got, tc.wantCalls)
		}
	}
	if n := c.Len(); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	c := cache.New[string, string](cache.Options{})
	boom := errors.New("boom")
	l := &loader{err: boom}
	if _, err := c.Get("k", l.load); !errors.Is(err, boom) {
		t.Fatalf("Get = %v, want the load's error", err)
	}
	l.mu.Lock()
	l.err, l.value = nil, "v"
	l.mu.Unlock()
	if got := get(t, c, "k", l); got != "v" {
		t.Errorf("after a failed load: got %q, want v", got)
	}
	if got := l.count(); got != 2 {
		t.Errorf("%d loads, want 2: the error must not have been cached", got)
	}
}

// A load that read the record before a change, and returns after the
// change's invalidation, must not put the old value back.
func TestLoadRacingAnInvalidationIsNotStored(t *testing.T) {
	for _, tc := range []struct {
		name       string
		invalidate func(c *cache.Cache[string, string])
	}{
		{"same key", func(c *cache.Cache[string, string]) { c.Invalidate("k") }},
		{"all", func(c *cache.Cache[string, string]) { c.InvalidateAll() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cache.New[string, string](cache.Options{})
			l := &loader{value: "old"}
			l.during = func() {
				l.set("new")
				tc.invalidate(c)
			}
			if got := get(t, c, "k", l); got != "old" {
				t.Fatalf("racing load returned %q, want what it read (old)", got)
			}
			l.mu.Lock()
			l.during = nil
			l.mu.Unlock()
			if got := get(t, c, "k", l); got != "new" {
				t.Errorf("after the racing load: got %q, want new (the old value was cached)", got)
			}
			if got := l.count(); got != 2 {
				t.Errorf("%d loads, want 2", got)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	c := cache.New[int, int](cache.Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				k := j % 5
				v, err := c.Get(k, func() (int, error) { return k * 10, nil })
				if err != nil || v != k*10 {
					t.Errorf("Get(%d) = %d, %v", k, v, err)
					return
				}
				if j%17 == i {
					c.Invalidate(k)
				}
				if j%53 == i {
					c.InvalidateAll()
				}
			}
		})
	}
	wg.Wait()
}

// lookups records what a cache reports, per cache name.
type lookups struct {
	mu   sync.Mutex
	seen map[string][]bool
}

func (l *lookups) CacheLookup(name string, hit bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string][]bool{}
	}
	l.seen[name] = append(l.seen[name], hit)
}

// Every Get is reported under the cache's name: a first load and a load
// after the TTL or an invalidation are misses, a fresh entry is a hit, and
// an error (not cached) is a miss each time.
func TestGetReportsHitsAndMisses(t *testing.T) {
	clk := fakeclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	rec := &lookups{}
	c := cache.New[string, string](cache.Options{TTL: time.Minute, Now: clk.Now, Name: "clients", Recorder: rec})
	l := &loader{value: "v1"}
	get(t, c, "a", l) // miss
	get(t, c, "a", l) // hit
	clk.Advance(2 * time.Minute)
	get(t, c, "a", l) // expired: miss
	get(t, c, "a", l) // hit
	c.Invalidate("a")
	get(t, c, "a", l) // miss
	failing := &loader{err: errors.New("down")}
	for range 2 {
		if _, err := c.Get("b", failing.load); err == nil {
			t.Fatal("Get with a failing load succeeded")
		}
	}
	want := []bool{false, true, false, true, false, false, false}
	got := rec.seen["clients"]
	if len(got) != len(want) {
		t.Fatalf("reported %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reported %v, want %v (true = hit)", got, want)
		}
	}
	if len(rec.seen) != 1 {
		t.Errorf("reported under names %v, want only clients", rec.seen)
	}
}

// Without a recorder nothing is reported and nothing breaks.
func TestGetWithoutRecorder(t *testing.T) {
	c := cache.New[string, string](cache.Options{})
	l := &loader{value: "v"}
	if get(t, c, "a", l) != "v" || get(t, c, "a", l) != "v" || l.count() != 1 {
		t.Fatalf("loads = %d, want 1", l.count())
	}
}
