package store

import (
	"context"
	"encoding/json"
	"time"
)

// This file holds the identity and access management records: groups,
// access requests, API tokens, sign-in bookkeeping and the audit log.

// IAM is the identity and access management part of a Store.
type IAM interface {
	Groups
	AccessRequests
	APITokens
	Audit
	SignIns
	SignInFailures
}

// ---------------------------------------------------------------------------
// Sign-in bookkeeping

// SignIns updates the fields of a user that sign-ins change, without
// rewriting the whole record (so a concurrent admin edit is not lost).
type SignIns interface {
	// RecordLoginSuccess sets LastLoginAt = at, FailedLogins = 0 and
	// LockedUntil = nil, and replaces PasswordHash when newHash is not empty
	// (a re-hash at new parameters). ErrNotFound if the user does not exist.
	RecordLoginSuccess(ctx context.Context, userID string, at time.Time, newHash string) error
	// RecordLoginFailure atomically increments FailedLogins; when it reaches
	// maxFailures it sets LockedUntil = at + lockFor and resets FailedLogins
	// to 0. It returns the updated user. ErrNotFound if absent.
	RecordLoginFailure(ctx context.Context, userID string, at time.Time, maxFailures int, lockFor time.Duration) (User, error)
}

// ---------------------------------------------------------------------------
// Groups

// Group holds users and roles: its members get its roles.
type Group struct {
	ID          string // UUID
	Name        string // unique
	Description string
	Roles       []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// SCIM 2.0 provisioning (scim/): the provisioning client's id of the
	// group (RFC 7643 externalId), "" for none; at most 255 characters.
	ExternalID string
}

// Groups stores groups and their members.
type Groups interface {
	// CreateGroup returns ErrConflict if the id or name is taken and
	// ErrNotFound if a role does not exist.
	CreateGroup(ctx context.Context, g Group) error
	// GetGroup returns ErrNotFound if there is no such group.
	GetGroup(ctx context.Context, id string) (Group, error)
	// UpdateGroup replaces name, description and roles; ErrNotFound if the
	// group or a role does not exist, ErrConflict if the name is taken.
	UpdateGroup(ctx context.Context, g Group) error
	// DeleteGroup removes the group and its memberships; ErrNotFound if absent.
	DeleteGroup(ctx context.Context, id string) error
	// ListGroups returns every group ordered by name.
	ListGroups(ctx context.Context) ([]Group, error)
	// AddGroupMember makes the user a member; ErrNotFound if the group or user
	// does not exist; no error if it is a member already.
	AddGroupMember(ctx context.Context, groupID, userID string) error
	// RemoveGroupMember returns ErrNotFound if the user is not a member.
	RemoveGroupMember(ctx context.Context, groupID, userID string) error
	// ListGroupMembers returns the member user ids, sorted.
	ListGroupMembers(ctx context.Context, groupID string) ([]string, error)
	// ListUserGroups returns the groups the user is a member of, by name.
	ListUserGroups(ctx context.Context, userID string) ([]Group, error)
	// GroupsOfUsers maps each given user id that belongs to any group to
	// its groups (with their roles), ordered by name; ids of non-members (or
	// of no user) are absent. One call serves a whole page of users.
	GroupsOfUsers(ctx context.Context, userIDs []string) (map[string][]Group, error)
}

// ---------------------------------------------------------------------------
// Access requests

// AccessRequestStatus is the state of an access request. pending is the only
// state a request leaves; the others are final.
type AccessRequestStatus string

const (
	RequestPending   AccessRequestStatus = "pending"
	RequestApproved  AccessRequestStatus = "approved"
	RequestDenied    AccessRequestStatus = "denied"
	RequestCancelled AccessRequestStatus = "cancelled"
)

// AccessRequest is a pending user's request to be let in.
type AccessRequest struct {
	ID            string // UUID
	UserID        string
	RequestedRole string
	Purpose       string
	Status        AccessRequestStatus
	// GrantedRole is the role an approval granted (it may differ from the
	// requested one).
	GrantedRole string
	// DecidedBy names the actor of the decision ("user:<id>", "client:<id>", "cli").
	DecidedBy string
	Comment   string
	CreatedAt time.Time
	DecidedAt *time.Time
	// ClientID is the client the request asks access to (app access
	// rules), "" for a request for a role alone. It is recorded as given,
	// not a reference: the request keeps it when the client is deleted.
	ClientID string
}

// AccessRequestFilter narrows ListAccessRequests. Zero fields do not filter.
type AccessRequestFilter struct {
	Status AccessRequestStatus
	UserID string
	// Before is the keyset cursor: only requests whose ID sorts before it in
	// the listing order (newest first: CreatedAt descending, then ID).
	Before string
	Limit  int // 0 means 100
}

// AccessRequests stores access requests.
type AccessRequests interface {
	// CreateAccessRequest returns ErrNotFound if the user or the requested role
	// does not exist, and ErrConflict if the user already has a pending
	// request for the same ClientID ("" counts as one client of its own):
	// one pending request per user and application.
	CreateAccessRequest(ctx context.Context, r AccessRequest) error
	// GetAccessRequest returns ErrNotFound if absent.
	GetAccessRequest(ctx context.Context, id string) (AccessRequest, error)
	// ListAccessRequests returns requests newest first.
	ListAccessRequests(ctx context.Context, f AccessRequestFilter) ([]AccessRequest, error)
	// DecideAccessRequest moves a pending request to status (approved, denied
	// or cancelled) with the decision's fields, and returns the updated
	// request. It returns ErrNotFound if absent and ErrConflict, changing
	// nothing, if the request is no longer pending: decisions are final and
	// exactly one of several concurrent decisions wins.
	DecideAccessRequest(ctx context.Context, id string, status AccessRequestStatus, grantedRole, decidedBy, comment string, at time.Time) (AccessRequest, error)
}

// ---------------------------------------------------------------------------
// API tokens

// APITokenKind says whom an API token acts for.
type APITokenKind string

const (
	// TokenPersonal: a user for itself.
	TokenPersonal APITokenKind = "personal"
	// TokenUser: made by a manager for a user; acts as that user.
	TokenUser APITokenKind = "user"
	// TokenSystem: bound to a service account (a client with roles).
	TokenSystem APITokenKind = "system"
)

// APIToken is a named, scoped, expiring bearer token for scripts. Only the
// SHA-256 digest of its secret is stored.
type APIToken struct {
	ID   string // UUID
	Name string
	Kind APITokenKind
	// UserID is the user the token acts as (personal and user tokens).
	UserID string
	// ClientID is the service account a system token acts as.
	ClientID string
	// Scopes are the permissions the token may use, a subset of what its
	// principal has.
	Scopes     []string
	SecretHash []byte
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// APITokens stores API tokens.
type APITokens interface {
	// CreateAPIToken returns ErrConflict if the id or secret digest exists and
	// ErrNotFound if the user or client does not.
	CreateAPIToken(ctx context.Context, t APIToken) error
	// GetAPIToken returns ErrNotFound if absent.
	GetAPIToken(ctx context.Context, id string) (APIToken, error)
	// GetAPITokenBySecretHash returns ErrNotFound if no token has that digest
	// (revoked and expired ones are returned; the caller decides).
	GetAPITokenBySecretHash(ctx context.Context, hash []byte) (APIToken, error)
	// ListAPITokens returns tokens newest first; userID and clientID narrow
	// it when not empty.
	ListAPITokens(ctx context.Context, userID, clientID string) ([]APIToken, error)
	// RevokeAPIToken sets RevokedAt; ErrNotFound if absent or already revoked.
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error
	// TouchAPIToken sets LastUsedAt; ErrNotFound if absent.
	TouchAPIToken(ctx context.Context, id string, at time.Time) error
}

// ---------------------------------------------------------------------------
// Audit log

// ActorType says who did something.
type ActorType string

const (
	ActorUser      ActorType = "user"
	ActorClient    ActorType = "client"
	ActorCLI       ActorType = "cli"
	ActorSystem    ActorType = "system"
	ActorAnonymous ActorType = "anonymous"
)

// Change is the before and after of one changed field. Secret fields are
// never recorded; a changed password is recorded as {"changed": true}.
type Change struct {
	Before any `json:"before,omitempty"`
	After  any `json:"after,omitempty"`
}

// AuditEntry is one append-only record of something that happened.
type AuditEntry struct {
	// ID increases with every entry; it is assigned by the store.
	ID        int64
	At        time.Time
	ActorType ActorType
	ActorID   string
	// Action is a dotted verb: user.create, user.update, user.delete,
	// login.success, login.failure, logout, token.revoke, ...
	Action     string
	TargetType string
	TargetID   string
	IPAddress  string
	// Act names who acted on the actor's behalf ("user:<id>",
	// "client:<id>", "cli", "system"), when the request carried a token
	// one principal made for another; "" when the actor acted for itself.
	Act string
	// Changes maps field names to Change, as JSON; nil if none.
	Changes json.RawMessage
	// Digest chains the entry to the one before (AuditDigest); assigned by
	// the store, nil for entries written before the chain began.
	Digest []byte
}

// AuditFilter narrows ListAudit. Zero fields do not filter.
type AuditFilter struct {
	ActorID  string
	Action   string // exact, or a prefix ending in "." (e.g. "user.")
	TargetID string
	Since    *time.Time // inclusive
	Until    *time.Time // exclusive
	// Before is the keyset cursor: only entries with a smaller ID.
	Before int64
	Limit  int // 0 means 100
}

// Audit is the append-only audit log.
type Audit interface {
	// AppendAudit stores e (ignoring e.ID and e.Digest) and returns its
	// assigned ID: the chain head's plus one, with the digest chaining it
	// to the head (AuditDigest). Appends inside transactions are ordered
	// by the head: a second waits for the first's transaction to end.
	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	// ListAudit returns entries newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
	AuditChain
}
