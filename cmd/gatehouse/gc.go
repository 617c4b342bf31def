package main

import (
	"runtime/debug"

	"github.com/gatehouse/gatehouse/config"
)

// gcTuning is what tuneGC sets: the collector's target and the soft
// memory limit, each only if set is true.
type gcTuning struct {
	percent    int
	setPercent bool
	limitBytes int64
	setLimit   bool
	fromEnv    []string
}

// gcTuningFor decides what runtime.* sets: GOGC and GOMEMLIMIT, when the
// environment has them, are Go's own settings and win (the runtime read
// them at start), so that an operator's usual knob keeps working.
func gcTuningFor(c config.Runtime, getenv func(string) string) gcTuning {
	var t gcTuning
	if getenv("GOGC") == "" {
		t.percent, t.setPercent = c.GCPercent, true
	} else {
		t.fromEnv = append(t.fromEnv, "GOGC")
	}
	if getenv("GOMEMLIMIT") == "" {
		if c.MemoryLimitMB > 0 {
			t.limitBytes, t.setLimit = int64(c.MemoryLimitMB)<<20, true
		}
	} else {
		t.fromEnv = append(t.fromEnv, "GOMEMLIMIT")
	}
	return t
}

// tuneGC applies t to this process: the runtime's settings are the
// process's, so serve sets them once, before it starts serving.
func tuneGC(t gcTuning) {
	if t.setPercent {
		debug.SetGCPercent(t.percent)
	}
	if t.setLimit {
		debug.SetMemoryLimit(t.limitBytes)
	}
}
