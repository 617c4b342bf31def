package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/queue"
	"github.com/gatehouse/gatehouse/store"
)

func TestBackoff(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		if got := queue.Backoff(time.Second, 10*time.Second, attempts); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", attempts, got, want)
		}
	}
}

// Each stops at ctx's end and hands on the rows it did not attempt; the
// store errors of the rows it did are joined.
func TestEach(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var tried, rest []int
	boom := errors.New("boom")
	err := queue.Each(ctx, []int{1, 2, 3, 4}, func(_ context.Context, n int) error {
		tried = append(tried, n)
		if n == 2 {
			cancel()
			return boom
		}
		return nil
	}, func(r []int) { rest = r })
	if !errors.Is(err, boom) || !slices.Equal(tried, []int{1, 2}) || !slices.Equal(rest, []int{3, 4}) {
		t.Fatalf("Each: err %v, tried %v, rest %v; want boom, [1 2], [3 4]", err, tried, rest)
	}
}

// Run passes again and again, reports failures but not its own end, does
// its housekeeping after every pass, and returns when ctx ends.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	passes, idles := 0, 0
	var failures []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		queue.Run(ctx, time.Millisecond, func(ctx context.Context) (int, error) {
			passes++
			switch passes {
			case 1, 2:
				return 5, nil // busy: no wait
			case 3:
				return 1, fmt.Errorf("claim: %w", store.ErrNotFound)
			}
			cancel()
			return 0, ctx.Err()
		}, func(err error) { failures = append(failures, err) }, func(context.Context) { idles++ })
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Run did not return at ctx's end")
	}
	if passes != 4 || idles != 4 || len(failures) != 1 {
		t.Fatalf("passes %d idles %d failures %v; want 4, 4, one", passes, idles, failures)
	}
}

func TestIgnoreGoneAndTruncate(t *testing.T) {
	if err := queue.IgnoreGone(fmt.Errorf("x: %w", store.ErrNotFound)); err != nil {
		t.Errorf("IgnoreGone(not found) = %v", err)
	}
	if err := queue.IgnoreGone(errors.New("other")); err == nil {
		t.Error("IgnoreGone dropped another error")
	}
	if got := queue.Truncate("héllo", 2); got != "h" {
		t.Errorf("Truncate cut inside a character: %q", got)
	}
}
