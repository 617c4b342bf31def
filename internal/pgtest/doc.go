// Package pgtest gives tests a private, migrated PostgreSQL database: each
// test package creates its own uniquely named database and drops it when the
// test ends. It fails (never skips) when PostgreSQL is unreachable, so a
// missing database cannot pass for a green run.
package pgtest
