package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	// Every value maps to a bucket whose range contains it, and bucket
	// ranges tile the line without gaps or overlaps.
	prevHi := uint64(0)
	for i := range histBuckets {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if hi < lo {
			t.Fatalf("bucket %d: hi %d < lo %d", i, hi, lo)
		}
		for _, v := range []uint64{lo, hi, lo + (hi-lo)/2} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d) = %d, want %d (range %d..%d)", v, got, i, lo, hi)
			}
		}
		prevHi = hi
	}
	if prevHi != histMaxValue {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, histMaxValue)
	}
}

func TestQuantileSmallExactValues(t *testing.T) {
	// Below 256 µs every value has its own bucket, so percentiles are exact.
	var h Histogram
	for v := uint64(1); v <= 100; v++ {
		h.RecordMicros(v)
	}
	cases := []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"zero is the minimum", 0, 1 * time.Microsecond},
		{"p1", 0.01, 1 * time.Microsecond},
		{"p50", 0.50, 50 * time.Microsecond},
		{"p90", 0.90, 90 * time.Microsecond},
		{"p99", 0.99, 99 * time.Microsecond},
		{"p99.5 rounds the rank up", 0.995, 100 * time.Microsecond},
		{"one is the maximum", 1, 100 * time.Microsecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.Quantile(tc.q); got != tc.want {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	if h.Count() != 100 || h.Min() != time.Microsecond || h.Max() != 100*time.Microsecond {
		t.Errorf("count/min/max = %d/%v/%v, want 100/1µs/100µs", h.Count(), h.Min(), h.Max())
	}
	if got, want := h.Mean(), 50500*time.Nanosecond; got != want {
		t.Errorf("Mean() = %v, want %v", got, want)
	}
}

// exactQuantile is the reference: the sample of rank ceil(q*n) of a sorted
// slice.
func exactQuantile(sorted []uint64, q float64) uint64 {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

func TestQuantileWithinRelativeError(t *testing.T) {
	dists := []struct {
		name string
		gen  func(r *rand.Rand) uint64
	}{
		{"uniform 0.2-50 ms", func(r *rand.Rand) uint64 { return 200 + r.Uint64N(50_000) }},
		{"log-normal around 2 ms", func(r *rand.Rand) uint64 { return uint64(math.Exp(r.NormFloat64()*0.8 + math.Log(2000))) }},
		{"bimodal with a 1 s tail", func(r *rand.Rand) uint64 {
			if r.IntN(100) == 0 {
				return 900_000 + r.Uint64N(200_000)
			}
			return 300 + r.Uint64N(700)
		}},
	}
	for _, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h Histogram
			vals := make([]uint64, 200_000)
			for i := range vals {
				vals[i] = d.gen(r)
				h.RecordMicros(vals[i])
			}
			slices.Sort(vals)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
				want := exactQuantile(vals, q)
				got := uint64(h.Quantile(q) / time.Microsecond)
				// The reported value is the top of the true value's bucket:
				// never below it, and at most 1/128 above it.
				if got < want || float64(got-want) > float64(want)/128+1 {
					t.Errorf("q=%v: got %d µs, exact %d µs (allowed %d..%d)", q, got, want, want, want+want/128+1)
				}
			}
			if got, want := uint64(h.Max()/time.Microsecond), vals[len(vals)-1]; got != want {
				t.Errorf("Max = %d µs, want exactly %d", got, want)
			}
		})
	}
}

func TestMergeEqualsRecordingEverythingInOne(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all Histogram
	parts := make([]Histogram, 4)
	for i := range 10_000 {
		v := r.Uint64N(1_000_000)
		all.RecordMicros(v)
		parts[i%len(parts)].RecordMicros(v)
	}
	var merged Histogram
	merged.Merge(&Histogram{}) // merging an empty histogram changes nothing
	for i := range parts {
		merged.Merge(&parts[i])
	}
	if merged != all {
		t.Fatalf("merged histogram differs from the one that saw every sample: n %d/%d min %d/%d max %d/%d sum %d/%d",
			merged.n, all.n, merged.min, all.min, merged.max, all.max, merged.sum, all.sum)
	}
	for _, q := range []float64{0.5, 0.99} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("Quantile(%v): merged %v, single %v", q, merged.Quantile(q), all.Quantile(q))
		}
	}
}

func TestEmptyAndClampedValues(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatalf("empty histogram: p99 %v max %v mean %v, want zeros", h.Quantile(0.99), h.Max(), h.Mean())
	}
	h.Record(-time.Second) // a clock step backwards must not panic
	h.Record(100 * 24 * time.Hour)
	if got := h.Min(); got != 0 {
		t.Errorf("negative duration recorded as %v, want 0", got)
	}
	if got, want := h.Max(), micros(histMaxValue); got != want {
		t.Errorf("huge duration recorded as %v, want clamped to %v", got, want)
	}
	if h.Count() != 2 {
		t.Errorf("Count = %d, want 2", h.Count())
	}
}
