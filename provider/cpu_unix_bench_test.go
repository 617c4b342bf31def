//go:build unix

package provider

import (
	"syscall"
	"testing"
	"time"
)

// cpuClock measures the CPU time (user and system) this process spends
// from startCPU to report, so that a benchmark can tell its own CPU cost
// per operation apart from the time it waits (on PostgreSQL, or for the
// CPUs other processes hold).
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{start: processCPU()} }

// report adds the cpu-ns/op metric.
func (c cpuClock) report(b *testing.B) {
	b.StopTimer()
	if used := processCPU() - c.start; used > 0 && b.N > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
