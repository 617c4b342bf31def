package usage_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/fakeclock"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/usage"
)

// fakeStore keeps every batch it is given and tells batches of each one.
type fakeStore struct {
	mu      sync.Mutex
	batches [][]store.UsageCount
	fail    error
	added   chan struct{}
}

func newFakeStore() *fakeStore { return &fakeStore{added: make(chan struct{}, 100)} }

func (f *fakeStore) AddUsage(_ context.Context, counts []store.UsageCount) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.batches = append(f.batches, slices.Clone(counts))
	f.added <- struct{}{}
	return nil
}

// totals sums every batch by (day, metric, key).
func (f *fakeStore) totals() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int64{}
	for _, b := range f.batches {
		for _, c := range b {
			out[c.Day.Format(time.DateOnly)+" "+c.Metric+" "+c.Key] += c.Count
		}
	}
	return out
}

func (f *fakeStore) batchCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.batches)
}

// wait waits for the next batch; the timeout only stops a broken test.
func (f *fakeStore) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-f.added:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no flush", what)
	}
}

// ticker is an After whose ticks the test sends; it records the
// durations asked for.
type ticker struct {
	mu    sync.Mutex
	asked []time.Duration
	c     chan time.Time
}

func newTicker() *ticker { return &ticker{c: make(chan time.Time)} }

func (k *ticker) After(d time.Duration) <-chan time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.asked = append(k.asked, d)
	return k.c
}

func (k *ticker) tick() { k.c <- time.Time{} }

func (k *ticker) durations() []time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.asked)
}

var late = time.Date(2026, 12, 6, 23, 59, 59, 0, time.UTC)

// TestCountsStayInMemoryUntilFlushed: counting writes nothing; a flush
// adds one batch, summed per (UTC day, metric, key), with a count made
// after midnight on the next day.
func TestCountsStayInMemoryUntilFlushed(t *testing.T) {
	st, clock := newFakeStore(), fakeclock.New(late.In(time.FixedZone("X", -5*3600)))
	r := usage.New(st, usage.Options{Now: clock.Now})
	for range 3 {
		r.Count(store.UsageSignIns, "")
	}
	r.Count(store.UsageActiveUsers, "u1")
	r.Count(store.UsageTokens, "client_credentials")
	clock.Advance(2 * time.Second) // 00:00:01 UTC on the 7th
	r.Count(store.UsageSignIns, "")
	r.Count(store.UsageActiveUsers, "u1")
	if n := st.batchCount(); n != 0 {
		t.Fatalf("%d batches before any flush, want 0", n)
	}
	if n := r.Pending(); n != 5 {
		t.Fatalf("pending %d counters, want 5", n)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"2026-12-06 sign_in ": 3, "2026-12-06 active_user u1": 1, "2026-12-06 token client_credentials": 1,
		"2026-12-07 sign_in ": 1, "2026-12-07 active_user u1": 1,
	}
	if got := st.totals(); !mapsEqual(got, want) || st.batchCount() != 1 {
		t.Fatalf("stored %v in %d batches, want %v in 1", got, st.batchCount(), want)
	}
	for _, c := range st.batches[0] {
		if c.Day.Location() != time.UTC || !c.Day.Equal(store.UsageDay(c.Day)) {
			t.Errorf("day %v is not a UTC midnight", c.Day)
		}
	}
	if r.Pending() != 0 {
		t.Errorf("pending %d after the flush", r.Pending())
	}
	// An empty flush writes nothing.
	if err := r.Flush(context.Background()); err != nil || st.batchCount() != 1 {
		t.Errorf("empty flush: err %v, %d batches", err, st.batchCount())
	}
}

// TestRunFlushesEveryInterval: Run waits the configured interval between
// flushes, and each tick flushes what was counted since the last.
func TestRunFlushesEveryInterval(t *testing.T) {
	st, tk := newFakeStore(), newTicker()
	r := usage.New(st, usage.Options{Interval: 7 * time.Second, After: tk.After, Now: fakeclock.New(late).Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	r.Count(store.UsageTokens, "refresh_token")
	r.Count(store.UsageTokens, "refresh_token")
	tk.tick()
	st.wait(t, "first tick")
	r.Count(store.UsageTokens, "refresh_token")
	tk.tick()
	st.wait(t, "second tick")
	if got := st.totals()["2026-12-06 token refresh_token"]; got != 3 || st.batchCount() != 2 {
		t.Fatalf("refresh_token count %d in %d batches, want 3 in 2", got, st.batchCount())
	}
	for _, d := range tk.durations() {
		if d != 7*time.Second {
			t.Fatalf("Run waited %v, want the interval 7s (asked %v)", d, tk.durations())
		}
	}
}

// TestDefaultInterval: without an interval, Run waits 10 s.
func TestDefaultInterval(t *testing.T) {
	tk := newTicker()
	r := usage.New(newFakeStore(), usage.Options{After: tk.After})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	tk.tick() // Run has asked for its first wait once this is received
	cancel()
	<-done
	if d := tk.durations(); len(d) == 0 || d[0] != usage.DefaultInterval || usage.DefaultInterval != 10*time.Second {
		t.Fatalf("waits %v, want 10s", d)
	}
}

// TestFlushesEarlyAtTheBound: reaching MaxKeys distinct counters flushes
// without waiting for the interval.
func TestFlushesEarlyAtTheBound(t *testing.T) {
	st, tk := newFakeStore(), newTicker() // the ticker never ticks
	r := usage.New(st, usage.Options{MaxKeys: 3, After: tk.After})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	r.Count(store.UsageActiveUsers, "a")
	r.Count(store.UsageActiveUsers, "a") // the same counter: no new key
	r.Count(store.UsageActiveUsers, "b")
	if n := st.batchCount(); n != 0 {
		t.Fatalf("flushed below the bound (%d batches)", n)
	}
	r.Count(store.UsageActiveUsers, "c")
	st.wait(t, "at the bound")
	got := st.totals()
	if len(got) != 3 {
		t.Fatalf("flushed %v, want the three counters", got)
	}
}

// TestHardBoundDropsNewCounters: while no flush empties it, the recorder
// holds at most twice MaxKeys counters; further new keys are dropped (and
// logged at the next flush), held ones keep counting.
func TestHardBoundDropsNewCounters(t *testing.T) {
	st := newFakeStore()
	var logs strings.Builder
	r := usage.New(st, usage.Options{MaxKeys: 2, Now: fakeclock.New(late).Now,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		r.Count(store.UsageActiveUsers, k)
	}
	r.Count(store.UsageActiveUsers, "a")
	if n := r.Pending(); n != 4 {
		t.Fatalf("holding %d counters, want the hard bound 4", n)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := st.totals()
	if len(got) != 4 || got["2026-12-06 active_user a"] != 2 {
		t.Errorf("stored %v, want 4 counters with a at 2", got)
	}
	if !strings.Contains(logs.String(), "counts dropped") || !strings.Contains(logs.String(), "dropped=2") {
		t.Errorf("log %q does not report the 2 dropped counts", logs.String())
	}
}

// TestFailedFlushKeepsTheCounts: a batch the store refused is merged back
// and goes out with the next flush.
func TestFailedFlushKeepsTheCounts(t *testing.T) {
	st, clock := newFakeStore(), fakeclock.New(late)
	r := usage.New(st, usage.Options{Now: clock.Now})
	r.Count(store.UsageSignIns, "")
	st.fail = errors.New("database down")
	if err := r.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "database down") {
		t.Fatalf("flush into a failing store: %v", err)
	}
	st.fail = nil
	r.Count(store.UsageSignIns, "")
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := st.totals(); got["2026-12-06 sign_in "] != 2 || len(got) != 1 {
		t.Fatalf("stored %v, want sign_in 2", got)
	}
}

// TestShutdownFlushes: when Run's context ends it flushes what is left
// before it returns, with a context of its own (the server's is
// cancelled by then).
func TestShutdownFlushes(t *testing.T) {
	st, tk := newFakeStore(), newTicker()
	r := usage.New(st, usage.Options{After: tk.After, Now: fakeclock.New(late).Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	r.Count(store.UsageClientSignIns, "web")
	r.Count(store.UsageClientSignIns, "web")
	cancel()
	<-done
	if got := st.totals(); got["2026-12-06 client_sign_in web"] != 2 || st.batchCount() != 1 {
		t.Fatalf("after shutdown the store holds %v in %d batches, want client_sign_in web 2", got, st.batchCount())
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
