// Package cache keeps in-process copies of records that are read on every
// request and rarely change (clients, role definitions), until they are
// invalidated: by the writer in this process at once, and by the store's
// change feed (store.ChangeFeed) when another process writes. A TTL bounds
// how long an entry lives without either, as a safety net for a missed
// invalidation; it is not the mechanism.
//
// Tokens is the stricter cache introspection answers from: active access
// tokens, bounded, each until its token expires, serving nothing while the
// feed is not connected and holding a revocation's tokens out of it from
// the moment it is written (tokens.go).
package cache
