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
	// ChangeGrantTokens: access tokens of the grant (ID, the request id)
	// were revoked or deleted.
	ChangeGrantTokens ChangeKind = "grant_tokens"
	// ChangeUserTokens: access tokens of the user (ID) were revoked, or
	// the user deleted with its grants.
	ChangeUserTokens ChangeKind = "user_tokens"
	// ChangeSessionTokens: access tokens of the grants made in the login
	// session (ID) were revoked.
	ChangeSessionTokens ChangeKind = "session_tokens"
	// ChangeWebhook: a webhook subscription was created, updated or
	// deleted.
	ChangeWebhook ChangeKind = "webhook"
	// ChangeFeedLost: the change feed lost its connection and hears
	// nothing until it reconnects (announced by ChangeAll); a cache that
	// must never serve a change it missed stops serving meanwhile.
	ChangeFeedLost ChangeKind = "feed_lost"
	// ChangeUser: what a user may do changed: its record (status, expiry,
	// IP rules), its role grants or deny list, or its group memberships
	// (ID, the user id; "" every user). UpdateUser announces it only when
	// one of those changed (UserAccessChanged): a profile, email or
	// password edit is not announced. Announced like the
	// revocations of access tokens: to this process's TokenObservers when
	// written, to every instance's listener at the commit, and the write
	// returns once they have applied it (API principal cache, admin/).
	ChangeUser ChangeKind = "user"
	// ChangeGroup: a group's roles changed or it was deleted (ID, the
	// group id): announced as ChangeUser is.
	ChangeGroup ChangeKind = "group"
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
	// ID is the client id, the key id, the role name, or the grant, user
	// or login session whose access tokens were revoked; "" means every
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
	// keys and roles, every revocation of access tokens, and every
	// ChangeUser and ChangeGroup write, in commit order, one call at a time, until ctx is done; then it returns nil.
	// Whenever it (re)connects, before any other change, it calls fn with
	// ChangeAll: whatever was cached before may have changed while nobody
	// listened. When the connection is lost it calls fn with
	// ChangeFeedLost; it is retried with backoff, never returned as an
	// error. A revocation of access tokens, or a ChangeUser or ChangeGroup
	// write, written through any store on the same database, returns only
	// once every listening fn has returned from its event (or a bound of a
	// few seconds has passed), so fn must drop what it names before
	// returning.
	Listen(ctx context.Context, fn func(ChangeEvent)) error
}

// TokenObserver is offered by stores that tell this process of the
// revocations of access tokens it writes, when it writes them (before a
// transaction around them commits): the introspection cache stops serving
// the tokens at once, before the change feed (if any) announces the
// commit. Both stores implement it.
type TokenObserver interface {
	// ObserveTokenChanges registers fn, called with a ChangeGrantTokens,
	// ChangeUserTokens or ChangeSessionTokens event by every write of
	// this store that revokes or deletes access tokens, and with a
	// ChangeUser or ChangeGroup event by every successful UpdateUser that
	// changes what the user may do (UserAccessChanged), every successful
	// AddGroupMember, RemoveGroupMember and PutUsers (ChangeUser), and
	// UpdateGroup and DeleteGroup (ChangeGroup), before the write returns.
	// fn must be quick and must not call the store.
	ObserveTokenChanges(fn func(ChangeEvent))
}
