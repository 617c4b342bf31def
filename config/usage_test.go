package config_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
)

// TestUsageConfig: usage.flush_interval is 1s..1h and usage.retention at
// least a day, each refusal naming its key; both come from the file and
// the environment.
func TestUsageConfig(t *testing.T) {
	checkValidation(t, []validationCase{
		{"defaults", func(*config.Config) {}, ""},
		{"flush interval at its lower bound", func(c *config.Config) { c.Usage.FlushInterval = time.Second }, ""},
		{"flush interval at its upper bound", func(c *config.Config) { c.Usage.FlushInterval = time.Hour }, ""},
		{"flush interval zero", func(c *config.Config) { c.Usage.FlushInterval = 0 }, "usage.flush_interval"},
		{"flush interval too short", func(c *config.Config) { c.Usage.FlushInterval = 500 * time.Millisecond }, "usage.flush_interval"},
		{"flush interval too long", func(c *config.Config) { c.Usage.FlushInterval = 2 * time.Hour }, "usage.flush_interval"},
		{"retention one day", func(c *config.Config) { c.Usage.Retention = 24 * time.Hour }, ""},
		{"retention zero", func(c *config.Config) { c.Usage.Retention = 0 }, "usage.retention"},
		{"retention under a day", func(c *config.Config) { c.Usage.Retention = 23 * time.Hour }, "usage.retention"},
		{"retention negative", func(c *config.Config) { c.Usage.Retention = -time.Hour }, "usage.retention"},
	})

	env := map[string]string{"GATEHOUSE_USAGE_FLUSH_INTERVAL": "30s", "GATEHOUSE_USAGE_RETENTION": "2160h"}
	c, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Usage != (config.Usage{FlushInterval: 30 * time.Second, Retention: 90 * 24 * time.Hour}) {
		t.Errorf("usage from the environment = %+v", c.Usage)
	}

	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, []byte("usage:\n  flush_interval: 5s\n  retention: 9600h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err = config.Load(path, nil); err != nil {
		t.Fatalf("Load %s: %v", path, err)
	}
	if c.Usage != (config.Usage{FlushInterval: 5 * time.Second, Retention: 400 * 24 * time.Hour}) {
		t.Errorf("usage from the file = %+v", c.Usage)
	}
}
