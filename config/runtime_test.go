package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

// TestRuntimeConfig: runtime.gc_percent is 50..2000 and
// runtime.memory_limit_mb 0 or at least 64, each refusal naming its key;
// both come from the file and the environment.
func TestRuntimeConfig(t *testing.T) {
	if d := config.Default().Runtime; d != (config.Runtime{GCPercent: 400, MemoryLimitMB: 512}) {
		t.Errorf("default runtime = %+v", d)
	}
	checkValidation(t, []validationCase{
		{"defaults", func(*config.Config) {}, ""},
		{"Go's own GC target", func(c *config.Config) { c.Runtime.GCPercent = 100 }, ""},
		{"GC target at its bounds", func(c *config.Config) { c.Runtime.GCPercent = 2000 }, ""},
		{"GC target too low", func(c *config.Config) { c.Runtime.GCPercent = 49 }, "runtime.gc_percent"},
		{"GC off", func(c *config.Config) { c.Runtime.GCPercent = -1 }, "runtime.gc_percent"},
		{"GC target too high", func(c *config.Config) { c.Runtime.GCPercent = 2001 }, "runtime.gc_percent"},
		{"no memory limit", func(c *config.Config) { c.Runtime.MemoryLimitMB = 0 }, ""},
		{"memory limit at its bound", func(c *config.Config) { c.Runtime.MemoryLimitMB = 64 }, ""},
		{"memory limit too low", func(c *config.Config) { c.Runtime.MemoryLimitMB = 63 }, "runtime.memory_limit_mb"},
		{"memory limit negative", func(c *config.Config) { c.Runtime.MemoryLimitMB = -1 }, "runtime.memory_limit_mb"},
	})

	env := map[string]string{"GATEHOUSE_RUNTIME_GC_PERCENT": "200", "GATEHOUSE_RUNTIME_MEMORY_LIMIT_MB": "1024"}
	c, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Runtime != (config.Runtime{GCPercent: 200, MemoryLimitMB: 1024}) {
		t.Errorf("runtime from the environment = %+v", c.Runtime)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte("runtime:\n  gc_percent: 100\n  memory_limit_mb: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = config.Load(path, nil); err != nil {
		t.Fatalf("Load %s: %v", path, err)
	}
	if c.Runtime != (config.Runtime{GCPercent: 100}) {
		t.Errorf("runtime from the file = %+v", c.Runtime)
	}
}
