package config

import (
	"fmt"
	"time"
)

// DeviceCode configures the device authorization grant (RFC 8628).
type DeviceCode struct {
	// Lifetime is how long a device authorization waits for the user
	// (the answer's expires_in).
	Lifetime time.Duration `yaml:"lifetime"`
	// Interval is the least time between two polls of the token endpoint
	// the client is told (the answer's interval), in whole seconds; a
	// client polling sooner is told slow_down and the interval grows by
	// 5 s.
	Interval time.Duration `yaml:"interval"`
}

// Bounds of device_code.*: a user code is short enough to guess in
// enough tries, so it must not live long; an interval of more than a
// minute makes a device feel broken.
const (
	MaxDeviceCodeLifetime = time.Hour
	MaxDeviceCodeInterval = time.Minute
)

// defaultDeviceCode: RFC 8628's suggested 5 s interval, and ten minutes
// to walk to a computer and type eight characters.
func defaultDeviceCode() DeviceCode {
	return DeviceCode{Lifetime: 10 * time.Minute, Interval: 5 * time.Second}
}

func deviceCodeChecks() []check {
	return []check{
		{"device_code.lifetime", func(c Config) string {
			if d := c.DeviceCode.Lifetime; d < time.Second || d > MaxDeviceCodeLifetime {
				return fmt.Sprintf("must be between 1s and %s, got %s", MaxDeviceCodeLifetime, d)
			}
			return ""
		}},
		{"device_code.interval", func(c Config) string {
			d := c.DeviceCode.Interval
			switch {
			case d < time.Second || d > MaxDeviceCodeInterval:
				return fmt.Sprintf("must be between 1s and %s, got %s", MaxDeviceCodeInterval, d)
			case d%time.Second != 0:
				return fmt.Sprintf("must be a whole number of seconds, got %s", d)
			}
			return ""
		}},
	}
}
