package config_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/config"
)

func TestDeviceCodeConfig(t *testing.T) {
	checkValidation(t, []validationCase{
		{"defaults", func(*config.Config) {}, ""},
		{"lifetime at its bound", func(c *config.Config) { c.DeviceCode.Lifetime = config.MaxDeviceCodeLifetime }, ""},
		{"lifetime zero", func(c *config.Config) { c.DeviceCode.Lifetime = 0 }, "device_code.lifetime"},
		{"lifetime too long", func(c *config.Config) { c.DeviceCode.Lifetime = 2 * time.Hour }, "device_code.lifetime"},
		{"interval zero", func(c *config.Config) { c.DeviceCode.Interval = 0 }, "device_code.interval"},
		{"interval too long", func(c *config.Config) { c.DeviceCode.Interval = 2 * time.Minute }, "device_code.interval"},
		{"interval not whole seconds", func(c *config.Config) { c.DeviceCode.Interval = 1500 * time.Millisecond }, "device_code.interval"},
	})

	env := map[string]string{"GATEHOUSE_DEVICE_CODE_LIFETIME": "3m", "GATEHOUSE_DEVICE_CODE_INTERVAL": "2s"}
	c, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.DeviceCode != (config.DeviceCode{Lifetime: 3 * time.Minute, Interval: 2 * time.Second}) {
		t.Errorf("device_code from the environment = %+v", c.DeviceCode)
	}
}
