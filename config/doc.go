// Package config owns gatehouse's configuration: one typed Config, its
// defaults, loading from a YAML file and GATEHOUSE_* environment variables
// (including _FILE variants for secrets), and validation that reports every
// problem at once. Flags are applied by the CLI on the loaded value.
package config
