// Package janitor deletes what has expired — codes, tokens and their grants,
// pushed authorization requests, login sessions, used JWT ids, retired signing keys — in small batches, so
// the tables stay bounded without long locks. Deletes are idempotent, so
// several instances may run their janitors against one database at once.
package janitor
