package main

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in microseconds in log-linear buckets (the
// HDR histogram layout): exact below 256 µs, and above that 128 buckets per
// power of two, so any percentile it reports is within 1/128 (0.8 %) of the
// true value while its memory stays fixed however many samples it sees.
// Count, min, max and sum are exact. It is not safe for concurrent use:
// each worker keeps its own and they are merged at the end.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	min    uint64
	max    uint64
	sum    uint64 // microseconds; overflows only after ~584,000 years of samples
}

const (
	// histLinear values are recorded exactly.
	histLinear = 256
	// histSub is the number of buckets per power of two above histLinear.
	histSub = 128
	// histMaxShift bounds the recorded range at 2^(histMaxShift+8) µs
	// (about 9.5 days); longer values are clamped to it.
	histMaxShift = 32
	histBuckets  = histLinear + histMaxShift*histSub
	histMaxValue = uint64(1)<<(histMaxShift+8) - 1
)

// bucketOf returns the bucket index of v (µs).
func bucketOf(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	// shift >= 1 makes v>>shift fall in [128, 256).
	shift := bits.Len64(v) - 8
	return histLinear + (shift-1)*histSub + int(v>>shift) - histSub
}

// bucketRange returns the smallest and largest value a bucket holds.
func bucketRange(i int) (lo, hi uint64) {
	if i < histLinear {
		return uint64(i), uint64(i)
	}
	shift := (i-histLinear)/histSub + 1
	mant := uint64((i-histLinear)%histSub + histSub)
	lo = mant << shift
	return lo, lo + (uint64(1) << shift) - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	h.RecordMicros(uint64(max(d, 0) / time.Microsecond))
}

// RecordMicros adds one value in microseconds.
func (h *Histogram) RecordMicros(v uint64) {
	if v > histMaxValue {
		v = histMaxValue
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return micros(h.max) }

// Min is the smallest sample, exactly.
func (h *Histogram) Min() time.Duration { return micros(h.min) }

// Mean is the average sample.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(float64(h.sum) / float64(h.n) * float64(time.Microsecond))
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// samples lie: the sample of rank ceil(q*n), reported as the largest value
// its bucket holds (never above the exact maximum), as HDR histograms do, so
// a percentile is never understated.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	switch {
	case q <= 0:
		return micros(h.min)
	case q >= 1:
		return micros(h.max)
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			return micros(min(hi, h.max))
		}
	}
	return micros(h.max)
}

func micros(v uint64) time.Duration { return time.Duration(v) * time.Microsecond }
