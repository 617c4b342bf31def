package config

import (
	"fmt"
	"time"
)

// Webhooks is the outbox of event deliveries and its worker (one per
// instance; they share the rows): README "Events and webhooks".
type Webhooks struct {
	// MaxAttempts delivery attempts, each after a longer wait, and a
	// delivery is given up (kept in the log as failed, counted).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge gives a delivery up however few attempts it had.
	MaxAge time.Duration `yaml:"max_age"`
	// BackoffBase is the wait after the first failed attempt; it doubles
	// with each further one, up to an hour, with jitter.
	BackoffBase time.Duration `yaml:"backoff_base"`
	// Timeout bounds one POST to a receiver.
	Timeout time.Duration `yaml:"timeout"`
	// PollInterval is how often the worker looks for due deliveries.
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxPending bounds the deliveries waiting: past it, the deliveries of
	// new events are dropped (logged, counted); the changes go on.
	MaxPending int `yaml:"max_pending"`
	// Retention is how long delivered and given-up deliveries stay in the
	// delivery log.
	Retention time.Duration `yaml:"retention"`
}

// defaultWebhooks is Default()'s webhooks section.
func defaultWebhooks() Webhooks {
	return Webhooks{MaxAttempts: 10, MaxAge: 24 * time.Hour, BackoffBase: 10 * time.Second, Timeout: 10 * time.Second,
		PollInterval: time.Second, MaxPending: 10000, Retention: 7 * 24 * time.Hour}
}

// webhookChecks are the webhooks section's rules.
func webhookChecks() []check {
	positive := func(get func(w Webhooks) time.Duration) func(c Config) string {
		return func(c Config) string {
			if d := get(c.Webhooks); d <= 0 {
				return fmt.Sprintf("must be a positive duration, got %s", d)
			}
			return ""
		}
	}
	return []check{
		{"webhooks.max_attempts", func(c Config) string {
			if n := c.Webhooks.MaxAttempts; n < 1 || n > 100 {
				return fmt.Sprintf("must be between 1 and 100, got %d", n)
			}
			return ""
		}},
		{"webhooks.max_age", positive(func(w Webhooks) time.Duration { return w.MaxAge })},
		{"webhooks.backoff_base", positive(func(w Webhooks) time.Duration { return w.BackoffBase })},
		{"webhooks.timeout", func(c Config) string {
			switch d := c.Webhooks.Timeout; {
			case d <= 0:
				return fmt.Sprintf("must be a positive duration, got %s", d)
			case d > time.Minute:
				// A claimed batch's lease grows with it; a receiver that
				// takes a minute is down.
				return fmt.Sprintf("must be at most 1m, got %s", d)
			}
			return ""
		}},
		{"webhooks.poll_interval", positive(func(w Webhooks) time.Duration { return w.PollInterval })},
		{"webhooks.max_pending", func(c Config) string {
			if n := c.Webhooks.MaxPending; n < 1 {
				return fmt.Sprintf("must be at least 1, got %d", n)
			}
			return ""
		}},
		{"webhooks.retention", positive(func(w Webhooks) time.Duration { return w.Retention })},
	}
}
