package main

import (
	"runtime/debug"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

func TestGCTuning(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c := config.Runtime{GCPercent: 400, MemoryLimitMB: 512}

	got := gcTuningFor(c, env(nil))
	if !got.setPercent || got.percent != 400 || !got.setLimit || got.limitBytes != 512<<20 || len(got.fromEnv) != 0 {
		t.Errorf("from the config: %+v", got)
	}
	got = gcTuningFor(c, env(map[string]string{"GOGC": "100", "GOMEMLIMIT": "1GiB"}))
	if got.setPercent || got.setLimit || !slices.Equal(got.fromEnv, []string{"GOGC", "GOMEMLIMIT"}) {
		t.Errorf("GOGC and GOMEMLIMIT in the environment must win: %+v", got)
	}
	got = gcTuningFor(config.Runtime{GCPercent: 100}, env(nil))
	if !got.setPercent || got.percent != 100 || got.setLimit {
		t.Errorf("no memory limit configured: %+v", got)
	}

	// Applied to the process, then put back for the other tests.
	prevPercent := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	})
	tuneGC(gcTuningFor(c, env(nil)))
	if p := debug.SetGCPercent(100); p != 400 {
		t.Errorf("GC percent after tuneGC = %d, want 400", p)
	}
	if l := debug.SetMemoryLimit(-1); l != 512<<20 {
		t.Errorf("memory limit after tuneGC = %d, want %d", l, 512<<20)
	}
}
