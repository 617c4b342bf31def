// Package server assembles gatehouse's HTTP surface: it builds the signing
// key manager, the pages (consent) and the OAuth 2.0 / OpenID Connect
// endpoints (provider) from one configuration and store, mounts them on one
// router, and wraps them in what every request gets: bounded bodies, panic
// recovery and telemetry (metrics by route template, one log line and an
// X-Request-Id per request, a trace when tracing is configured). /metrics is
// served at the listener's root, unless metrics.addr moves it to a listener
// of its own (MetricsHandler, which cmd/gatehouse serves). cmd/gatehouse and
// the end-to-end tests both build the server through New, so the tests run
// what ships.
//
// It also keeps the instance's caches (clients, signing keys, role
// definitions) true when several instances share one database: it applies
// the store's change feed (PostgreSQL LISTEN/NOTIFY) to them until Close.
package server
