// Package queue holds what the durable outboxes' workers share (mail,
// back-channel logout, webhooks): the poll loop, the pass over a claimed
// batch, the backoff, and the treatment of a row another worker finished.
// Each worker keeps what is its own: what it claims, how it delivers, what
// it records.
package queue

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Backoff is the wait before the next attempt after the attempts-th failed
// one: base doubled attempts-1 times, at most max.
func Backoff(base, max time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// Run calls pass until ctx ends, waiting poll after a pass that found
// nothing or failed (a busy queue is drained without waiting). A failure
// is handed to failed, unless it is ctx's own end; between passes, idle
// (if not nil) does the worker's housekeeping.
func Run(ctx context.Context, poll time.Duration, pass func(context.Context) (int, error), failed func(error), idle func(context.Context)) {
	for ctx.Err() == nil {
		n, err := pass(ctx)
		if err != nil && ctx.Err() == nil {
			failed(err)
		}
		if idle != nil {
			idle(ctx)
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Each delivers the rows of a claimed batch in order, joining the store
// errors deliver returns. Once ctx ends it stops: stopped (if not nil) is
// given the rows not attempted, which otherwise stay claimed until their
// lease ends and another worker (or this one, restarted) takes them.
func Each[T any](ctx context.Context, batch []T, deliver func(context.Context, T) error, stopped func([]T)) error {
	var errs []error
	for i, row := range batch {
		if ctx.Err() != nil {
			if stopped != nil {
				stopped(batch[i:])
			}
			break
		}
		errs = append(errs, deliver(ctx, row))
	}
	return errors.Join(errs...)
}

// IgnoreGone: a row deleted or finished meanwhile (by a worker that
// claimed it after our lease ran out) needs nothing more.
func IgnoreGone(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// Truncate cuts an error message for its text column, on a character
// boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
