package store

import "context"

// ChangeKind names what kind of record a ChangeEvent is about.
type ChangeKind string

const (
	// ChangeClient: a client was created, updated or deleted.
	ChangeClient ChangeKind = "client"
	// ChangeSigningKey: a signing key was added, rotated or deleted.
	ChangeSigningKey ChangeKind = "signing_key"
	// ChangeRole: a role definition was created, updated or deleted.
	ChangeRole ChangeKind = "role"
	// ChangeAll: anything may have changed (a change feed has just
	// (re)connected and may have missed notifications); drop every cache.
	ChangeAll ChangeKind = "all"
)

// ChangeEvent tells in-process caches that a record they may hold is out
// of date. It says what changed, not how: a cache drops the record and
// reads it again when next asked. (Change, in iam.go, is something else:
// an audited field's before and after.)
type ChangeEvent struct {
	Kind ChangeKind
	// ID is the client id, the key id or the role name; "" means every
	// record of the kind.
	ID string
}

// ChangeFeed is offered by stores that several processes share
// (store/postgres): it reports changes to the cached records made by any
// of them. The memory store lives in one process and has none: the domain
// service reports its own writes (domain.Options.OnChange), which is all a
// single process needs; a write made to it behind the domain's back (a
// test fixture) is seen when the caches' safety-net TTL expires.
type ChangeFeed interface {
	// Listen calls fn with every change committed to the clients, signing
	// keys and roles, in commit order, one call at a time, until ctx is
	// done; then it returns nil. Whenever it (re)connects, before any
	// other change, it calls fn with ChangeAll: whatever was cached before
	// may have changed while nobody listened. A lost connection is retried
	// with backoff, never returned as an error.
	Listen(ctx context.Context, fn func(ChangeEvent)) error
}
