// Package telemetry is gatehouse's operability surface: the Prometheus
// metrics an instance exposes at /metrics (from a registry of its own, never
// the process-wide default), the one access-log line per request with its
// request id, and OpenTelemetry tracing of requests when it is configured.
//
// Packages that have something to count (provider: tokens; domain:
// sign-ins; janitor: deletions; cache: hits and misses) declare a small
// recorder interface of their own; *Telemetry implements them all, and
// server/ hands it to each by hand.
package telemetry
