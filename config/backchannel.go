package config

import (
	"fmt"
	"time"
)

// BackChannelLogout is the durable queue of OpenID Connect Back-Channel
// Logout notifications and its sender (one per instance; they share the
// rows): README "Back-channel logout".
type BackChannelLogout struct {
	// MaxAttempts delivery attempts, each after a longer wait, and a
	// notification is given up (deleted, logged, counted).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge gives a notification up however few attempts it had.
	MaxAge time.Duration `yaml:"max_age"`
	// BackoffBase is the wait after the first failed attempt; it doubles
	// with each further one, up to an hour.
	BackoffBase time.Duration `yaml:"backoff_base"`
	// MaxRows bounds the queue: past it, the notifications of a session
	// that ends are dropped (logged); the session ends all the same.
	MaxRows int `yaml:"max_rows"`
	// PollInterval is how often the sender looks for due notifications.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Timeout bounds one POST to a client's backchannel_logout_uri.
	Timeout time.Duration `yaml:"timeout"`
}

// defaultBackChannelLogout is Default()'s back_channel_logout section.
func defaultBackChannelLogout() BackChannelLogout {
	return BackChannelLogout{MaxAttempts: 8, MaxAge: 24 * time.Hour, BackoffBase: 10 * time.Second,
		MaxRows: 10000, PollInterval: 2 * time.Second, Timeout: 5 * time.Second}
}

// backChannelChecks are the back_channel_logout section's rules.
func backChannelChecks() []check {
	positive := func(get func(c BackChannelLogout) time.Duration) func(c Config) string {
		return func(c Config) string {
			if d := get(c.BackChannelLogout); d <= 0 {
				return fmt.Sprintf("must be a positive duration, got %s", d)
			}
			return ""
		}
	}
	return []check{
		{"back_channel_logout.max_attempts", func(c Config) string {
			if n := c.BackChannelLogout.MaxAttempts; n < 1 || n > 100 {
				return fmt.Sprintf("must be between 1 and 100, got %d", n)
			}
			return ""
		}},
		{"back_channel_logout.max_age", positive(func(b BackChannelLogout) time.Duration { return b.MaxAge })},
		{"back_channel_logout.backoff_base", positive(func(b BackChannelLogout) time.Duration { return b.BackoffBase })},
		{"back_channel_logout.max_rows", func(c Config) string {
			if n := c.BackChannelLogout.MaxRows; n < 1 {
				return fmt.Sprintf("must be at least 1, got %d", n)
			}
			return ""
		}},
		{"back_channel_logout.poll_interval", positive(func(b BackChannelLogout) time.Duration { return b.PollInterval })},
		{"back_channel_logout.timeout", func(c Config) string {
			switch d := c.BackChannelLogout.Timeout; {
			case d <= 0:
				return fmt.Sprintf("must be a positive duration, got %s", d)
			case d > time.Minute:
				// A claimed batch's lease grows with it; a receiver that
				// takes a minute is down.
				return fmt.Sprintf("must be at most 1m, got %s", d)
			}
			return ""
		}},
	}
}
