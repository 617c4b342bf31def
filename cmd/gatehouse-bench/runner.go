package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Worker performs one operation per call. label names the kind of
// operation for workloads that mix several ("" when there is one kind).
type Worker interface {
	Do(ctx context.Context) (label string, err error)
}

// A waiter is a worker that may have to wait before its next operation
// can start, for something its workload rations (authcode-login-totp's
// users, whose code of a time step works once). Run calls Wait before
// the clock of each operation starts, so the wait is no part of the
// operation's latency, and counts the waits that overlap the measured
// window, so that they show in the report rather than silently lowering
// the rate. waited reports whether it had to wait; an error means ctx
// ended.
type waiter interface {
	Wait(ctx context.Context) (waited bool, err error)
}

// Workload makes the workers of one benchmark. Unit is what one operation
// is ("req", or "flow" for a whole authorization).
type Workload struct {
	Name string
	Unit string
	// NewWorker prepares worker i (tokens, a login session...) before the
	// clock starts; workers are set up one after another.
	NewWorker func(ctx context.Context, i int) (Worker, error)
}

// Probe measures the system under test around the measured window.
type Probe interface {
	Start() error
	Stop() (Usage, error)
}

// Usage is what a Probe saw during the measured window.
type Usage struct {
	// ServerCPU is user+system time of the gatehouse process, DBCPU that
	// of the PostgreSQL backends serving it, GenCPU the load generator's own.
	ServerCPU, DBCPU, GenCPU time.Duration
	// PeakRSS is the server's peak resident set in the window (bytes).
	PeakRSS int64
	// DBRoundTrips counts client round trips to PostgreSQL (roundtrips
	// command only).
	DBRoundTrips int64
}

// Result is one workload at one concurrency.
type Result struct {
	Workload    string
	Unit        string
	Concurrency int
	Elapsed     time.Duration
	All         *Histogram
	Ops         map[string]*Histogram
	OpErrors    map[string]int64
	Errors      int64
	// ErrorSamples are the first distinct error messages.
	ErrorSamples []string
	Usage        Usage
	// Waits counts the waits of waiter workers that overlapped the
	// measured window; Waited is how much of the window they took.
	Waits  int64
	Waited time.Duration
}

// Rate is successful operations per second.
func (r *Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.All.Count()) / r.Elapsed.Seconds()
}

// OpRate is the rate of one labelled operation.
func (r *Result) OpRate(label string) float64 {
	h := r.Ops[label]
	if h == nil || r.Elapsed <= 0 {
		return 0
	}
	return float64(h.Count()) / r.Elapsed.Seconds()
}

// Labels returns the operation labels in a stable order.
func (r *Result) Labels() []string { return slices.Sorted(maps.Keys(r.Ops)) }

const maxErrorSamples = 5

// workerStats is what one worker collected; merged after the run.
type workerStats struct {
	all      Histogram
	ops      map[string]*Histogram
	opErrors map[string]int64
	errors   int64
	samples  []string
	waits    int64
	waited   time.Duration
}

func (s *workerStats) record(label string, d time.Duration, err error) {
	if err != nil {
		s.errors++
		s.opErrors[label]++
		if len(s.samples) < maxErrorSamples {
			s.samples = append(s.samples, err.Error())
		}
		return
	}
	s.all.Record(d)
	if label != "" {
		h := s.ops[label]
		if h == nil {
			h = &Histogram{}
			s.ops[label] = h
		}
		h.Record(d)
	}
}

// RunSpec says how long to warm up and measure.
type RunSpec struct {
	Concurrency int
	Warmup      time.Duration
	Duration    time.Duration
}

// Run sets up spec.Concurrency workers, runs them for the warm-up (not
// recorded) and then for the measured duration, and returns what was
// measured. An operation counts if it completed inside the measured window,
// whenever it started: in steady state that is the throughput, even for
// operations that take a good part of the window (a sign-in at c=32 takes
// seconds), which a "started and finished inside" rule would undercount.
// Workers start nothing after the window; what is then in flight is not
// counted. Errors are counted the same way; their latencies are not
// recorded.
func Run(ctx context.Context, wl Workload, spec RunSpec, probe Probe) (*Result, error) {
	workers := make([]Worker, spec.Concurrency)
	for i := range workers {
		w, err := wl.NewWorker(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("%s: set up worker %d: %w", wl.Name, i, err)
		}
		workers[i] = w
	}

	start := time.Now()
	measureFrom := start.Add(spec.Warmup)
	measureTo := measureFrom.Add(spec.Duration)
	stats := make([]*workerStats, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		st := &workerStats{ops: map[string]*Histogram{}, opErrors: map[string]int64{}}
		stats[i] = st
		wg.Go(func() {
			wt, _ := w.(waiter)
			for ctx.Err() == nil {
				if wt != nil {
					// A wait ends with the window at the latest: what the
					// worker would then do is not measured anyway.
					wctx, cancel := context.WithDeadline(ctx, measureTo)
					w0 := time.Now()
					waited, err := wt.Wait(wctx)
					w1 := time.Now()
					cancel()
					if waited {
						if d := overlap(w0, w1, measureFrom, measureTo); d > 0 {
							st.waits++
							st.waited += d
						}
					}
					if err != nil {
						return
					}
				}
				t0 := time.Now()
				if !t0.Before(measureTo) {
					return
				}
				label, err := w.Do(ctx)
				t1 := time.Now()
				if ctx.Err() != nil {
					return
				}
				if !t1.Before(measureFrom) && !t1.After(measureTo) {
					st.record(label, t1.Sub(t0), err)
				}
			}
		})
	}

	// The probe brackets the measured window: CPU seconds and peak RSS are
	// of that window alone.
	var probeErr error
	var usage Usage
	if probe != nil {
		if err := sleepUntil(ctx, measureFrom); err == nil {
			probeErr = probe.Start()
			if err := sleepUntil(ctx, measureTo); err == nil && probeErr == nil {
				usage, probeErr = probe.Stop()
			}
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if probeErr != nil {
		return nil, fmt.Errorf("%s: probe: %w", wl.Name, probeErr)
	}

	res := &Result{
		Workload: wl.Name, Unit: wl.Unit, Concurrency: spec.Concurrency, Elapsed: spec.Duration,
		All: &Histogram{}, Ops: map[string]*Histogram{}, OpErrors: map[string]int64{}, Usage: usage,
	}
	seen := map[string]bool{}
	for _, st := range stats {
		res.All.Merge(&st.all)
		for l, h := range st.ops {
			if res.Ops[l] == nil {
				res.Ops[l] = &Histogram{}
			}
			res.Ops[l].Merge(h)
		}
		for l, n := range st.opErrors {
			res.OpErrors[l] += n
		}
		res.Errors += st.errors
		res.Waits += st.waits
		res.Waited += st.waited
		for _, s := range st.samples {
			if !seen[s] && len(res.ErrorSamples) < maxErrorSamples {
				seen[s] = true
				res.ErrorSamples = append(res.ErrorSamples, s)
			}
		}
	}
	return res, nil
}

// overlap is how much of [from, to] lies in [winFrom, winTo].
func overlap(from, to, winFrom, winTo time.Time) time.Duration {
	if from.Before(winFrom) {
		from = winFrom
	}
	if to.After(winTo) {
		to = winTo
	}
	return max(0, to.Sub(from))
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
