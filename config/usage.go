package config

import (
	"fmt"
	"time"
)

// Usage is the usage analytics (README "Usage analytics"): the in-memory
// counts each instance flushes into the usage table, and how long the
// janitor keeps them.
type Usage struct {
	// FlushInterval is how often each instance adds what it counted to
	// the database (and at shutdown); a crash loses at most one
	// interval's counts.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Retention is how long the daily counters are kept.
	Retention time.Duration `yaml:"retention"`
}

// Bounds of usage.*: a flush more often than every second buys nothing
// the dashboard can show and costs writes; one less often than hourly
// loses too much in a crash. The dashboard reads up to 90 days, but a
// shorter retention is allowed (the active-user counters name users).
const (
	MinUsageFlushInterval = time.Second
	MaxUsageFlushInterval = time.Hour
	MinUsageRetention     = 24 * time.Hour
)

// defaultUsage: ten seconds of counts at risk, and a bit over a year of
// history, so that a month can be compared with the same one last year.
func defaultUsage() Usage {
	return Usage{FlushInterval: 10 * time.Second, Retention: 400 * 24 * time.Hour}
}

func usageChecks() []check {
	return []check{
		{"usage.flush_interval", func(c Config) string {
			if d := c.Usage.FlushInterval; d < MinUsageFlushInterval || d > MaxUsageFlushInterval {
				return fmt.Sprintf("must be between %s and %s, got %s", MinUsageFlushInterval, MaxUsageFlushInterval, d)
			}
			return ""
		}},
		{"usage.retention", func(c Config) string {
			if d := c.Usage.Retention; d < MinUsageRetention {
				return fmt.Sprintf("must be at least %s (one day), got %s", MinUsageRetention, d)
			}
			return ""
		}},
	}
}
