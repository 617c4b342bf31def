// Package migrations owns gatehouse's PostgreSQL schema: numbered,
// forward-only SQL files embedded in the binary and applied with goose. Up is
// safe to run from several processes at once: a session-level advisory lock
// serializes them, and each migration runs in its own transaction.
package migrations
