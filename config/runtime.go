package config

import "fmt"

// Runtime tunes the Go runtime of `gatehouse serve` (README "Performance",
// the garbage collector). GOGC and GOMEMLIMIT in the environment, Go's own
// settings, win over these.
type Runtime struct {
	// GCPercent is the collector's target (GOGC): the heap may grow by
	// this percentage of what was live after the last collection before
	// the next one. Go's default, 100, spent a tenth of a refresh's server
	// CPU collecting; the server's heap is small (tens of MB), so trading
	// memory for CPU is cheap.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimitMB is a soft limit of the process's memory in MiB
	// (GOMEMLIMIT): near it the collector runs as often as it must,
	// whatever GCPercent says. 0: none.
	MemoryLimitMB int `yaml:"memory_limit_mb"`
}

// Bounds of runtime.*: below 50 the collector runs more than Go's default
// would ever warrant here; above 2000 the heap could grow twentyfold
// between collections; a memory limit under 64 MiB would keep the
// collector running without pause.
const (
	MinGCPercent     = 50
	MaxGCPercent     = 2000
	MinMemoryLimitMB = 64
)

// defaultRuntime: a collection per four times the live heap, under a soft
// limit of 512 MiB that the server's heap is far below (README: peak RSS
// 54 MB through the whole bench at 100).
func defaultRuntime() Runtime {
	return Runtime{GCPercent: 400, MemoryLimitMB: 512}
}

func runtimeChecks() []check {
	return []check{
		{"runtime.gc_percent", func(c Config) string {
			if p := c.Runtime.GCPercent; p < MinGCPercent || p > MaxGCPercent {
				return fmt.Sprintf("must be between %d and %d, got %d", MinGCPercent, MaxGCPercent, p)
			}
			return ""
		}},
		{"runtime.memory_limit_mb", func(c Config) string {
			if m := c.Runtime.MemoryLimitMB; m != 0 && m < MinMemoryLimitMB {
				return fmt.Sprintf("must be 0 (none) or at least %d, got %d", MinMemoryLimitMB, m)
			}
			return ""
		}},
	}
}
