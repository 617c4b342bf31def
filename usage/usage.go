package usage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Defaults of Options.
const (
	DefaultInterval = 10 * time.Second
	// DefaultMaxKeys bounds the counters held between flushes: a day's
	// sign-ins of ten thousand distinct users in one interval flush early.
	DefaultMaxKeys = 10_000
	// DefaultFlushTimeout bounds one flush, the last one at shutdown
	// included, so a database that hangs cannot hold the process.
	DefaultFlushTimeout = 5 * time.Second
)

// Store is what the recorder needs of the store.
type Store interface {
	AddUsage(ctx context.Context, counts []store.UsageCount) error
}

// Options configure a Recorder; zero values take the defaults.
type Options struct {
	// Interval between flushes (config usage.flush_interval).
	Interval time.Duration
	// MaxKeys is how many distinct (day, metric, key) counters may wait
	// for a flush: reaching it flushes at once, and while a flush cannot
	// keep up (the database is slow or down) new counters beyond twice
	// it are dropped (logged), so memory stays bounded. Counters already
	// held keep counting.
	MaxKeys int
	// FlushTimeout bounds one AddUsage.
	FlushTimeout time.Duration
	// Now stamps each count with its UTC day.
	Now    func() time.Time
	Logger *slog.Logger
	// After is the timer Run waits on between flushes (time.After); a
	// test hands in one it fires itself.
	After func(time.Duration) <-chan time.Time
}

type counter struct {
	day         int64 // Unix seconds of the UTC midnight
	metric, key string
}

// Recorder aggregates counts in memory and flushes them to the store. Its
// methods are safe for concurrent use.
type Recorder struct {
	st   Store
	opts Options
	// full is signalled (never blocking) when pending reaches MaxKeys.
	full chan struct{}

	mu      sync.Mutex
	pending map[counter]int64
	dropped int64 // counts refused at the hard bound since the last flush
	// flushing serializes flushes, so that a failed batch merged back
	// cannot race the next one.
	flushing sync.Mutex
}

// New returns a Recorder over st; Run flushes it.
func New(st Store, opts Options) *Recorder {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.After == nil {
		opts.After = time.After
	}
	return &Recorder{st: st, opts: opts, full: make(chan struct{}, 1), pending: map[counter]int64{}}
}

// Count counts one event of metric (store.UsageSignIns, ...) for key on
// today's UTC day. It only touches memory.
func (r *Recorder) Count(metric, key string) {
	c := counter{day: store.UsageDay(r.opts.Now()).Unix(), metric: metric, key: key}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.pending[c]; ok {
		r.pending[c] = n + 1
		return
	}
	if len(r.pending) >= 2*r.opts.MaxKeys {
		r.dropped++
		return
	}
	r.pending[c] = 1
	if len(r.pending) == r.opts.MaxKeys {
		select {
		case r.full <- struct{}{}:
		default:
		}
	}
}

// Pending is the number of counters waiting for a flush.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// Flush adds what was counted to the store in one AddUsage. If that
// fails, the counts are kept for the next flush (within the hard bound),
// and the error is returned.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushing.Lock()
	defer r.flushing.Unlock()
	r.mu.Lock()
	batch, dropped := r.pending, r.dropped
	r.pending, r.dropped = make(map[counter]int64, len(batch)), 0
	r.mu.Unlock()
	if dropped > 0 {
		r.opts.Logger.Warn("usage: counts dropped: too many distinct counters between flushes",
			"dropped", dropped, "max_keys", r.opts.MaxKeys)
	}
	if len(batch) == 0 {
		return nil
	}
	counts := make([]store.UsageCount, 0, len(batch))
	for c, n := range batch {
		counts = append(counts, store.UsageCount{Day: time.Unix(c.day, 0).UTC(), Metric: c.metric, Key: c.key, Count: n})
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.FlushTimeout)
	defer cancel()
	if err := r.st.AddUsage(ctx, counts); err != nil {
		r.restore(batch)
		return fmt.Errorf("usage: flush %d counters: %w", len(counts), err)
	}
	return nil
}

// restore merges a batch that could not be stored back into pending, as
// far as the hard bound allows.
func (r *Recorder) restore(batch map[counter]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c, n := range batch {
		if _, ok := r.pending[c]; !ok && len(r.pending) >= 2*r.opts.MaxKeys {
			r.dropped += n
			continue
		}
		r.pending[c] += n
	}
}

// Run flushes every Interval, and at once when MaxKeys counters wait,
// until ctx is done; then it flushes a last time (bounded by
// FlushTimeout) and returns. A failed flush is logged and retried at the
// next one.
func (r *Recorder) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			if err := r.Flush(context.WithoutCancel(ctx)); err != nil {
				r.opts.Logger.Error("usage: last flush failed; these counts are lost", "error", err)
			}
			return
		case <-r.opts.After(r.opts.Interval):
		case <-r.full:
		}
		if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("usage: flush failed; retried at the next interval", "error", err)
		}
	}
}
