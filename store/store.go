package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Sentinel errors. Every backend wraps its failures so that errors.Is works
// with these; callers branch on them, never on driver errors.
var (
	// ErrNotFound: the addressed record does not exist (or, for one-use
	// records, is no longer usable where the method says so).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness rule or a compare-and-swap expectation failed.
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable: the backend could not be reached or did not answer in
	// time (a connection refused or cut, a deadline passed). Nothing can be
	// said of the record; the same call may succeed later. A write that
	// fails so may or may not have been applied.
	ErrUnavailable = errors.New("store: unavailable")
)

// Store is everything gatehouse persists. store/postgres is the production
// backend and store/memory the embedded default; store/storetest holds the
// one conformance suite both must pass.
type Store interface {
	Transactor
	Clients
	Users
	Roles
	Tokens
	PARRequests
	LoginSessions
	WebAuthn
	Consents
	SigningKeys
	JWTIDs
	TrustedIssuers
	IAM
	Stats
	MFA
	Tickets
	MailOutbox
	// Back-channel logout.
	BackChannelLogouts
	// IdentityProviders: upstream OpenID Connect providers (idp).
	IdentityProviders
	// DeviceCodes: the device authorization grant (devicecodes.go).
	DeviceCodes
	DPoPProofs
	// Areas: organizational areas and delegated administration (areas.go).
	Areas

	// Webhooks: event subscriptions and their delivery outbox (webhooks.go).
	Webhooks

	// Permissions: custom permissions and time-boxed role grants
	// (permissions.go).
	Permissions
	// BulkUsers: bulk import of users (bulk.go).
	BulkUsers
	// Usage: aggregated usage counters (appaccess, usage.go).
	Usage
	// RefreshTokens: the refresh_token grant in two round trips (refresh.go).
	RefreshTokens
	// ClientTokens: client_credentials access tokens as one row each,
	// written by group commit (groupcommit, clienttokens.go).
	ClientTokens
	// AuthorizeCodes: the code flow's rows in one round trip each
	// (codes.go).
	AuthorizeCodes
	// SessionReads: a signed-in browser's session, user and consent in
	// one round trip (signin.go).
	SessionReads

	// Ping reports whether the backend is reachable (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close()
}

// Transactor carries a transaction inside a context, the shape fosite's
// storage.Transactional expects. Every other method of the Store, given a
// context returned by BeginTx, runs inside that transaction.
//
// BeginTx on a context that already holds a transaction starts a nested one
// (a savepoint): its Commit releases the savepoint and its Rollback undoes
// only the nested work. Commit and Rollback are called with the context
// BeginTx returned. Rollback after Commit is a no-op, so callers may defer it.
type Transactor interface {
	BeginTx(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// InTx runs fn inside a transaction of s, committing when fn returns nil and
// rolling back otherwise.
func InTx(ctx context.Context, s Transactor, fn func(ctx context.Context) error) error {
	txCtx, err := s.BeginTx(ctx)
	if err != nil {
		return err
	}
	if err := fn(txCtx); err != nil {
		if rbErr := s.Rollback(txCtx); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	return s.Commit(txCtx)
}

// ---------------------------------------------------------------------------
// Clients

// AccessTokenFormat selects how a client's access tokens are minted.
type AccessTokenFormat string

const (
	// FormatDefault defers to the server configuration.
	FormatDefault AccessTokenFormat = ""
	FormatOpaque  AccessTokenFormat = "opaque"
	FormatJWT     AccessTokenFormat = "jwt"
)

// Lifetimes override the server's token lifetimes; a zero field means "use
// the server default".
type Lifetimes struct {
	AuthorizationCode time.Duration `json:"authorization_code,omitempty"`
	AccessToken       time.Duration `json:"access_token,omitempty"`
	IDToken           time.Duration `json:"id_token,omitempty"`
	RefreshToken      time.Duration `json:"refresh_token,omitempty"`
}

// Client is a registered OAuth 2.0 client (relying party).
type Client struct {
	ID   string
	Name string
	// SecretHash is the SHA-256 digest of the client secret; empty for public
	// clients and clients that authenticate with private_key_jwt.
	SecretHash []byte
	// TokenEndpointAuthMethod: client_secret_basic, client_secret_post,
	// private_key_jwt or none.
	TokenEndpointAuthMethod string
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	// AllowedOrigins are exact origins (scheme://host[:port]) allowed by CORS.
	AllowedOrigins []string
	GrantTypes     []string
	ResponseTypes  []string
	Scopes         []string
	Audience       []string
	Public         bool
	// FirstParty clients skip the consent page.
	FirstParty bool
	// JWKS is the client's public key set (RFC 7517 JSON) for private_key_jwt.
	JWKS              json.RawMessage
	AccessTokenFormat AccessTokenFormat
	// IDTokenSignedResponseAlg is the JWS algorithm of the client's ID
	// tokens (OIDC Registration id_token_signed_response_alg): "" for the
	// RS256 default, "RS256" or "ES256".
	IDTokenSignedResponseAlg string
	Lifetimes                Lifetimes
	// Roles make a client_credentials client a service account.
	Roles     []string
	CreatedAt time.Time
	UpdatedAt time.Time

	// Back-channel logout (OpenID Connect Back-Channel Logout 1.0).
	//
	// BackchannelLogoutURI receives a logout token when a login session the
	// client received tokens in ends; "" for none.
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired: the client's logout tokens must
	// carry sid (they always do when the session is known).
	BackchannelLogoutSessionRequired bool
	// Dynamic client registration (RFC 7591/7592).
	//
	// Registered clients registered themselves at the registration
	// endpoint: always third-party, managed with their registration access
	// token, and deleted when unused for the configured time.
	Registered bool
	// RegistrationTokenHash is the SHA-256 digest of the registration
	// access token; the token itself is shown once and never stored.
	RegistrationTokenHash []byte
	// LastUsedAt is when the client last got a token, kept to within an
	// hour (TouchClient); nil if it never did.
	LastUsedAt *time.Time
	// ClientURI, LogoURI and Contacts are RFC 7591 §2 metadata shown to
	// people (the home page, the logo, whom to contact).
	ClientURI string
	LogoURI   string
	Contacts  []string
	// DPoP (RFC 9449).

	// DPoPBoundAccessTokens (RFC 9449 §5.2 dpop_bound_access_tokens): every
	// token request of the client must carry a DPoP proof, so none of its
	// access tokens is a bearer token.
	DPoPBoundAccessTokens bool

	// App access rules (appaccess).
	//
	// Access restricts who may use the client: empty lets everyone in.
	Access ClientAccess
}

// ClientAccess is a client's app access rule: a user may use the client if
// any of its effective roles (its own and its groups', through the role
// hierarchy) is in Roles, it is a member of a group in Groups (by id), or
// it is a member of an area in Areas (by code) or of any area below one.
// All empty: everyone may.
type ClientAccess struct {
	Roles  []string `json:"roles"`
	Groups []string `json:"groups"`
	// Areas are area codes (a code never changes); a deleted area admits
	// nobody.
	Areas []string `json:"areas"`
}

// Restricted reports whether the rule admits only some users.
func (a ClientAccess) Restricted() bool {
	return len(a.Roles) > 0 || len(a.Groups) > 0 || len(a.Areas) > 0
}

// Clients stores OAuth 2.0 clients.
type Clients interface {
	// CreateClient returns ErrConflict if the id is taken.
	CreateClient(ctx context.Context, c Client) error
	// GetClient returns ErrNotFound if there is no such client.
	GetClient(ctx context.Context, id string) (Client, error)
	// GetClientForUpdate is GetClient that, inside a transaction, holds the
	// client until the transaction ends, so that an update computed from
	// what it read is not lost to a concurrent one.
	GetClientForUpdate(ctx context.Context, id string) (Client, error)
	// UpdateClient replaces every field but ID and CreatedAt; ErrNotFound if
	// the client does not exist.
	UpdateClient(ctx context.Context, c Client) error
	// DeleteClient removes the client and every grant, token, consent and PAR
	// request of it; ErrNotFound if it does not exist.
	DeleteClient(ctx context.Context, id string) error
	// ListClients returns every client ordered by id.
	ListClients(ctx context.Context) ([]Client, error)

	// TouchClient records that a registered client got a token at at,
	// unless its LastUsedAt is already after notBefore: a cheap write that
	// changes nothing most of the time. Unknown or unregistered clients are
	// left alone (no error).
	TouchClient(ctx context.Context, id string, at, notBefore time.Time) error
	// DeleteUnusedRegisteredClients deletes, as DeleteClient does, at most
	// limit registered clients whose last use (or, never used, creation)
	// is before before; it returns how many it deleted. Clients not
	// registered dynamically are never deleted.
	DeleteUnusedRegisteredClients(ctx context.Context, before time.Time, limit int) (int, error)
	// CountRegisteredClients counts the registered clients (the bound of
	// open registration).
	CountRegisteredClients(ctx context.Context) (int, error)
}

// ---------------------------------------------------------------------------
// Users and roles

// UserStatus is the lifecycle state of a user.
type UserStatus string

const (
	StatusPending  UserStatus = "pending"
	StatusActive   UserStatus = "active"
	StatusLocked   UserStatus = "locked"
	StatusDisabled UserStatus = "disabled"
	// StatusExpired is never stored: it is the effective status of a
	// pending or active user whose ExpiresAt has passed (EffectiveStatus).
	StatusExpired UserStatus = "expired"
)

// User is a person (or service account) in the directory.
type User struct {
	ID            string // UUID
	Username      string
	Email         string
	PasswordHash  string
	FullName      string
	Department    string
	Goals         []string
	Preferences   json.RawMessage // JSON object; nil means {}
	Status        UserStatus
	Roles         []string // role names directly assigned
	EmailVerified bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastLoginAt   *time.Time
	ExpiresAt     *time.Time
	// FailedLogins counts consecutive failed sign-ins since the last success.
	FailedLogins int
	// LockedUntil is set by repeated failed sign-ins: until then the user
	// cannot sign in, whatever its Status. Admin locks use StatusLocked.
	LockedUntil *time.Time
	// IPAllow and IPDeny are the user's address rules (domain.CheckAddress):
	// masked prefixes, single addresses as /32 or /128, in the order given.
	// nil and empty are the same: no rule.
	IPAllow []netip.Prefix
	IPDeny  []netip.Prefix
	// SessionLimit caps the user's live login sessions; nil means the
	// server's default (sessions.limit), 0 no limit.
	SessionLimit *int

	// Time-boxed role grants and denied permissions.
	// RoleExpiry maps a role of Roles to the instant its assignment stops
	// counting; roles absent from it are held until removed. Entries for
	// roles not in Roles are ignored; nil when no grant is time-boxed.
	// Readers of effective roles must ignore an expired assignment at once
	// (domain does, with its clock): the janitor deletes it later.
	RoleExpiry map[string]time.Time
	// DeniedPermissions are permissions the user never holds, whatever its
	// roles and groups grant: a set, sorted, empty (not nil) when none.
	DeniedPermissions []string
	// Profile fields (OpenID Connect Core 5.1 standard claims).
	//
	// PhoneNumber is E.164 ("+" and 8-15 digits), "" for none.
	// PhoneNumberVerified is set by administrators only; a new number is
	// unverified.
	PhoneNumber         string
	PhoneNumberVerified bool
	// GivenName and FamilyName make the name claim when FullName is "".
	GivenName  string
	FamilyName string
	// Locale is a BCP 47 language tag, Zoneinfo an IANA time zone name,
	// Picture an https URL; "" for none.
	Locale   string
	Zoneinfo string
	Picture  string
	// Break-glass (emergency) access.
	//
	// BreakGlass marks an emergency account: it signs in without the MFA
	// enrolment its roles would demand, its login sessions last at most an
	// hour, and every administrator is told (domain/breakglass.go).
	BreakGlass bool
	// SCIM 2.0 provisioning (scim/).
	//
	// ExternalID is the provisioning client's identifier of the user (RFC
	// 7643 externalId), "" for none; at most 255 characters, not unique.
	ExternalID string
}

// EffectiveStatus is the status the user has at now: the stored status,
// except that a pending or active user whose expiry is not after now is
// StatusExpired. A lock or a soft delete stays what it is: it is the
// administrator's stronger statement and what would have to be undone
// first, and ExpiresAt is there to be read beside it.
//
// This is the one statement of the rule in Go; store/postgres states it
// again in SQL for ListUsers' Status filter, and the conformance suite keeps
// the two in step. A lockout after failed sign-ins (LockedUntil) is not a
// status: it stops password guessing, not the user's sessions.
func (u User) EffectiveStatus(now time.Time) UserStatus {
	if (u.Status == StatusPending || u.Status == StatusActive) && u.ExpiresAt != nil && !now.Before(*u.ExpiresAt) {
		return StatusExpired
	}
	return u.Status
}

// LockedOut reports whether repeated failed sign-ins keep the user out at
// now (LockedUntil is after now).
func (u User) LockedOut(now time.Time) bool {
	return u.LockedUntil != nil && now.Before(*u.LockedUntil)
}

// UserFilter narrows ListUsers. Zero fields do not filter.
type UserFilter struct {
	// Query matches a case-insensitive substring of username, email or full name.
	Query string
	// Status matches the effective status at Now (User.EffectiveStatus), so
	// StatusActive leaves out expired users and StatusExpired finds them.
	// It is a condition of the query, not a filter of the page read, so
	// pages stay full and the keyset cursor exact.
	Status UserStatus
	// Now is the time Status is judged at.
	Now  time.Time
	Role string
	// Group is a group id: only its members.
	Group string
	// Sort is the order (SortByUsername when empty); Order its direction
	// (OrderAsc when empty).
	Sort  UserSort
	Order SortOrder
	// After is the keyset cursor: the Key of the last user of the previous
	// page, in the same Sort and Order; only users strictly after it are
	// returned. nil for the first page.
	After *UserKey
	// Limit caps the result; 0 means 100.
	Limit int

	// Areas (areas.go).
	//
	// Area is an area id: only members of it or of an area below it.
	Area string
	// WithinAreas, when not nil, keeps only members of one of these areas
	// or of an area below one of them: the reach of a delegated
	// administrator. An empty, non-nil list keeps no one.
	WithinAreas []string
}

// UserSort names an order of ListUsers.
type UserSort string

const (
	// SortByUsername orders by username, in byte order.
	SortByUsername UserSort = "username"
	// SortByCreatedAt orders by creation time, then by id: several users
	// may be created in one microsecond, and the id makes the order total,
	// which a keyset cursor needs to neither skip nor repeat them.
	SortByCreatedAt UserSort = "created_at"
)

// SortOrder is the direction of an order.
type SortOrder string

const (
	OrderAsc  SortOrder = "asc"
	OrderDesc SortOrder = "desc"
)

// UserKey is a user's place in the orders of ListUsers: SortByUsername
// reads Username, SortByCreatedAt reads CreatedAt and ID.
type UserKey struct {
	Username  string
	CreatedAt time.Time
	ID        string
}

// Key is u's place in the orders of ListUsers.
func (u User) Key() UserKey { return UserKey{Username: u.Username, CreatedAt: u.CreatedAt, ID: u.ID} }

// Users stores the user directory.
type Users interface {
	// CreateUser returns ErrConflict if the id, username or email is taken, and
	// ErrNotFound if a role in u.Roles does not exist.
	CreateUser(ctx context.Context, u User) error
	// GetUser, GetUserByUsername and GetUserByEmail return ErrNotFound if there
	// is no such user. Username and email lookups are case-insensitive.
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	// GetUserForUpdate is GetUser that, inside a transaction, holds the
	// user until the transaction ends: a concurrent GetUserForUpdate or
	// UpdateUser of the same user waits for it, so that a read-modify-write
	// of a user is never interleaved with another one. ErrNotFound if absent.
	GetUserForUpdate(ctx context.Context, id string) (User, error)
	// UpdateUser replaces every field but ID and CreatedAt (roles included);
	// ErrNotFound if absent, ErrConflict on a taken username or email.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user and everything that belongs to it: login
	// sessions, consents, grants and their tokens. ErrNotFound if absent.
	DeleteUser(ctx context.Context, id string) error
	// ListUsers returns the users matching f in f's order, at most f.Limit
	// of them. A Sort or Order it does not know is an error.
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
}

// Role is a named set of permissions that may inherit one parent.
type Role struct {
	Name           string
	Description    string
	Parent         string // "" for none
	Permissions    []string
	SuggestedGoals []string
	BuiltIn        bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Roles stores role definitions. The four built-in roles (admin, manager,
// user, viewer) exist in every new store.
type Roles interface {
	// CreateRole returns ErrConflict if the name is taken and ErrNotFound if the
	// parent does not exist.
	CreateRole(ctx context.Context, r Role) error
	// GetRole returns ErrNotFound if there is no such role.
	GetRole(ctx context.Context, name string) (Role, error)
	// UpdateRole replaces description, parent, permissions and goals;
	// ErrNotFound if the role or the new parent does not exist.
	UpdateRole(ctx context.Context, r Role) error
	// DeleteRole returns ErrNotFound if absent and ErrConflict if the role is
	// built in, is the parent of another role, or is assigned to anyone.
	DeleteRole(ctx context.Context, name string) error
	// ListRoles returns every role ordered by name.
	ListRoles(ctx context.Context) ([]Role, error)
	// LockRoles makes the transaction ctx carries the only one that may
	// change the role hierarchy until it ends: another transaction's
	// LockRoles waits for it (or for ctx). A check made on the roles read
	// after it (no cycle, the parent exists) then still holds when the
	// transaction writes, provided every writer of roles takes the lock
	// first. Without a transaction in ctx it is an error.
	LockRoles(ctx context.Context) error
}

// ---------------------------------------------------------------------------
// OAuth 2.0 grants and tokens

// TokenKind names the kind of a token record.
type TokenKind string

const (
	KindAuthorizeCode TokenKind = "authorize_code"
	KindAccessToken   TokenKind = "access_token"
	KindRefreshToken  TokenKind = "refresh_token"
	// KindOpenIDSession and KindPKCE are keyed by the authorization code's
	// signature; they hold what the token endpoint needs to finish the flow.
	KindOpenIDSession TokenKind = "oidc_session"
	KindPKCE          TokenKind = "pkce"
)

// Token is one code or token, stored by the signature part of its value
// (never the value itself). Every token belongs to a grant: the "token
// header" keyed by RequestID, shared by all tokens of one authorization and
// of every refresh-token rotation that follows it.
type Token struct {
	Kind      TokenKind
	Signature string
	RequestID string
	ClientID  string
	// Subject is the user id, or the client id for client_credentials.
	Subject string
	// UserID is set when the subject is a user of the directory, so that
	// deleting the user deletes its grants.
	UserID string
	// LoginSessionID ties the grant to the browser session that created it,
	// so that ending the session ends its tokens. Empty if none.
	LoginSessionID string
	GrantedScopes  []string
	RequestedAt    time.Time
	ExpiresAt      time.Time
	Active         bool
	// Request is the serialized fosite request: bytes opaque to the
	// store, kept exactly (the provider's encoding is not JSON).
	Request []byte

	// The rotation of refresh tokens, which lets a client whose answer was
	// lost retry a refresh without looking like a thief (RewindRotation).
	//
	// Predecessor is, for a refresh token issued by a rotation, the
	// signature of the refresh token it replaced; "" otherwise.
	Predecessor string
	// RotatedAt is when the token was exchanged for a successor
	// (RotateToken); nil if it never was. An inactive token without it was
	// revoked, not rotated.
	RotatedAt *time.Time
	// RewoundAt is when the token's rotation was undone (RewindRotation);
	// nil if it never was. A rotation is undone at most once.
	RewoundAt *time.Time

	// DPoPProof, when set, is recorded by CreateToken together with the
	// token, with UseDPoPProof's rule: a grant that writes nothing but its
	// token (client_credentials) then pays no transaction for its proof.
	// Write-only: never read back.
	DPoPProof *DPoPProofUse
}

// DPoPProofUse is one use of a DPoP proof (DPoPProofs.UseDPoPProof's
// arguments).
type DPoPProofUse struct {
	JTIHash   []byte // 32 bytes
	ExpiresAt time.Time
	Now       time.Time
}

// ErrDPoPProofUsed is CreateToken's answer to a token whose DPoPProof is
// recorded already (and unexpired): nothing was written. It is an
// ErrConflict.
var ErrDPoPProofUsed = fmt.Errorf("store: DPoP proof used before: %w", ErrConflict)

// Grant is the header shared by all tokens of one authorization.
type Grant struct {
	ID             string // the fosite request id
	ClientID       string
	Subject        string
	UserID         string
	LoginSessionID string
	GrantedScopes  []string
	RequestedAt    time.Time
}

// Tokens stores grants and their codes and tokens.
type Tokens interface {
	// CreateToken stores t and, if it does not exist yet, the grant named by
	// t.RequestID (taking client, subject, user, session, scopes and
	// requested-at from t). ErrConflict if (kind, signature) exists;
	// ErrDPoPProofUsed if t.DPoPProof is set and recorded already (then
	// neither the grant nor the token is written).
	CreateToken(ctx context.Context, t Token) error
	// GetToken returns ErrNotFound if there is no such token. Inactive tokens
	// are returned (with Active false): callers need the request to detect
	// reuse. Inside a transaction, an authorization code or refresh token row
	// is locked until the transaction ends, so that concurrent redemptions of
	// one code or refresh token are serialized.
	GetToken(ctx context.Context, kind TokenKind, signature string) (Token, error)
	// DeactivateToken marks an active token inactive. It returns ErrNotFound if
	// there is no such token or it is already inactive: this is what makes
	// authorization codes and refresh tokens one-use.
	DeactivateToken(ctx context.Context, kind TokenKind, signature string) error
	// RotateToken is DeactivateToken for a token exchanged for a successor:
	// it also sets RotatedAt to at. ErrNotFound if there is no such token or
	// it is already inactive (the one-use rule, as DeactivateToken).
	RotateToken(ctx context.Context, kind TokenKind, signature string, at time.Time) error
	// RewindRotation undoes the rotation of a token presented again soon
	// after it: if the token is inactive, was rotated at or after since, has
	// never been rewound and has an active successor (a token of the kind
	// whose Predecessor is signature), it deactivates every successor, makes
	// the token active again and sets its RewoundAt to at. Otherwise it
	// changes nothing and returns ErrNotFound. The token's row and its
	// successors' are locked while it decides, so of concurrent rewinds (or
	// a rewind racing the successor's own rotation) exactly one wins; a
	// successor rotated first (inactive) makes the rewind fail.
	RewindRotation(ctx context.Context, kind TokenKind, signature string, since, at time.Time) error
	// DeleteToken removes one token; ErrNotFound if absent.
	DeleteToken(ctx context.Context, kind TokenKind, signature string) error
	// DeactivateTokensByRequest marks every token of the kind belonging to the
	// grant inactive. No error if there are none.
	DeactivateTokensByRequest(ctx context.Context, kind TokenKind, requestID string) error
	// DeleteTokensByRequest removes every token of the kind belonging to the
	// grant. No error if there are none.
	DeleteTokensByRequest(ctx context.Context, kind TokenKind, requestID string) error
	// GetGrant returns ErrNotFound if there is no such grant.
	GetGrant(ctx context.Context, requestID string) (Grant, error)
	// RevokeGrant deactivates every token of the grant; ErrNotFound if absent.
	RevokeGrant(ctx context.Context, requestID string) error
	// RevokeGrantsBySession deactivates every token of every grant made in the
	// login session, returning how many grants were affected.
	RevokeGrantsBySession(ctx context.Context, loginSessionID string) (int, error)
	// MoveSessionGrants makes every grant of login session from a grant of
	// session to, returning how many moved (ErrNotFound if there are any
	// and session to does not exist): a session
	// replaced by a new sign-in of the same user in the same browser hands
	// its grants on, so the new session's end still reaches them.
	MoveSessionGrants(ctx context.Context, from, to string) (int, error)
	// RevokeGrantsByUser deactivates every token of every grant of the user
	// (only those of the client, when clientID is not empty), returning how
	// many grants had an active token: what was revoked. No error if none.
	RevokeGrantsByUser(ctx context.Context, userID, clientID string) (int, error)
	// DeleteExpiredTokens removes up to limit tokens whose expiry is before
	// now (and grants left without tokens), returning how many tokens went.
	DeleteExpiredTokens(ctx context.Context, now time.Time, limit int) (int, error)
}

// PARRequest is a pushed authorization request (RFC 9126).
type PARRequest struct {
	RequestURI string
	ClientID   string
	ExpiresAt  time.Time
	Request    json.RawMessage
}

// PARRequests stores pushed authorization requests.
type PARRequests interface {
	// CreatePARRequest returns ErrConflict if the request URI exists.
	CreatePARRequest(ctx context.Context, p PARRequest) error
	// GetPARRequest returns ErrNotFound if absent or expired.
	GetPARRequest(ctx context.Context, requestURI string) (PARRequest, error)
	// DeletePARRequest returns ErrNotFound if absent.
	DeletePARRequest(ctx context.Context, requestURI string) error
	// DeleteExpiredPARRequests removes up to limit requests whose expiry is
	// not after now, returning how many went.
	DeleteExpiredPARRequests(ctx context.Context, now time.Time, limit int) (int, error)
}

// ---------------------------------------------------------------------------
// Browser sessions and consent

// LoginSession is a signed-in browser (single sign-on across clients).
type LoginSession struct {
	// ID is the SHA-256 (hex) of the cookie value; the value itself is never
	// stored.
	ID         string
	UserID     string
	AuthTime   time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
	UserAgent  string
	IPAddress  string
	// AMR are the authentication methods of the sign-in (RFC 8176 values:
	// "pwd", "otp", "mfa", "hwk", "user"), never nil once stored; ACR
	// its assurance level ("aal1", "aal2"). Sessions from before
	// multi-factor sign-in have neither.
	AMR []string
	ACR string
}

// LoginSessions stores browser login sessions.
type LoginSessions interface {
	// CreateLoginSession returns ErrConflict if the id exists and ErrNotFound
	// if the user does not.
	CreateLoginSession(ctx context.Context, s LoginSession) error
	// GetLoginSession returns ErrNotFound if absent or expired (relative to now).
	GetLoginSession(ctx context.Context, id string, now time.Time) (LoginSession, error)
	// TouchLoginSession sets LastSeenAt; ErrNotFound if absent.
	TouchLoginSession(ctx context.Context, id string, at time.Time) error
	// DeleteLoginSession returns ErrNotFound if absent.
	DeleteLoginSession(ctx context.Context, id string) error
	// ListLoginSessions returns the user's unexpired sessions, newest first.
	ListLoginSessions(ctx context.Context, userID string, now time.Time) ([]LoginSession, error)
	// DeleteExpiredLoginSessions removes up to limit expired sessions.
	DeleteExpiredLoginSessions(ctx context.Context, now time.Time, limit int) (int, error)
}

// Consent is what a user allowed a client, remembered so the consent page is
// shown once per client and scope set.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
	ExpiresAt *time.Time
}

// Consents stores remembered consents.
type Consents interface {
	// GetConsent returns ErrNotFound if there is none (or it has expired
	// relative to now).
	GetConsent(ctx context.Context, userID, clientID string, now time.Time) (Consent, error)
	// SaveConsent creates or replaces the consent of (user, client).
	SaveConsent(ctx context.Context, c Consent) error
	// DeleteConsent returns ErrNotFound if absent.
	DeleteConsent(ctx context.Context, userID, clientID string) error
	// ListConsents returns the user's unexpired consents (relative to now),
	// ordered by client id.
	ListConsents(ctx context.Context, userID string, now time.Time) ([]Consent, error)
}

// ---------------------------------------------------------------------------
// Signing keys

// KeyState is where a signing key is in its life.
type KeyState string

const (
	// KeyNext is published in the JWKS but does not sign yet, so relying
	// parties have it cached before it is used.
	KeyNext KeyState = "next"
	// KeyActive signs new tokens. At most one key per algorithm is active.
	KeyActive KeyState = "active"
	// KeyRetired no longer signs but stays published until VerifyUntil.
	KeyRetired KeyState = "retired"
)

// SigningKey is one signing key pair.
type SigningKey struct {
	ID        string // the JWK "kid"
	Algorithm string // RS256, ES256
	State     KeyState
	// PrivateKey is the private JWK, AEAD-encrypted by package keys.
	PrivateKey []byte
	// PublicKey is the public JWK (JSON).
	PublicKey   json.RawMessage
	CreatedAt   time.Time
	VerifyUntil *time.Time // set when retired
}

// SigningKeys stores signing keys.
type SigningKeys interface {
	// ListSigningKeys returns every key, oldest first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores k, whose State must be KeyActive or KeyNext. It
	// returns ErrConflict if a key of that algorithm and state exists
	// already (another instance won the race) or the id is taken. Keys of
	// different algorithms live side by side: one active and one next each.
	AddSigningKey(ctx context.Context, k SigningKey) error
	// RotateSigningKeys atomically retires the active key of newNext's
	// algorithm (VerifyUntil = retireUntil), promotes that algorithm's next
	// key to active and adds newNext as its next key; keys of other
	// algorithms are untouched. It returns ErrConflict, changing nothing,
	// unless that algorithm's current active and next keys have the
	// expected ids: another instance rotated.
	RotateSigningKeys(ctx context.Context, expectActive, expectNext string, newNext SigningKey, retireUntil time.Time) error
	// DeleteRetiredSigningKeys removes retired keys whose VerifyUntil is
	// before now, returning how many.
	DeleteRetiredSigningKeys(ctx context.Context, now time.Time) (int, error)
}

// ---------------------------------------------------------------------------
// JWT ids and trusted issuers (private_key_jwt and RFC 7523)

// JWTIDs records the ids of JWTs already used (client assertions and RFC
// 7523 grants) until they expire, so that none is accepted twice.
type JWTIDs interface {
	// MarkJWTIDUsed records jti until expiresAt. It returns ErrConflict if the
	// jti is already recorded and has not expired (relative to now).
	MarkJWTIDUsed(ctx context.Context, jti string, expiresAt, now time.Time) error
	// IsJWTIDUsed reports whether jti is recorded and unexpired.
	IsJWTIDUsed(ctx context.Context, jti string, now time.Time) (bool, error)
	// DeleteExpiredJWTIDs removes up to limit expired records.
	DeleteExpiredJWTIDs(ctx context.Context, now time.Time, limit int) (int, error)
}

// DPoPProofs records the DPoP proofs (RFC 9449) already presented, so that
// a proof is accepted once on whichever instance it reaches. A proof is
// named by a digest (store it, not the jti itself: the key is fixed-size
// whatever a client sends).
type DPoPProofs interface {
	// UseDPoPProof records the proof jtiHash (32 bytes) until expiresAt.
	// It returns ErrConflict if the proof is recorded already and has not
	// expired relative to now; an expired record is taken over. Two
	// concurrent uses of one proof: exactly one succeeds.
	UseDPoPProof(ctx context.Context, jtiHash []byte, expiresAt, now time.Time) error
	// DeleteExpiredDPoPProofs removes up to limit expired records.
	DeleteExpiredDPoPProofs(ctx context.Context, now time.Time, limit int) (int, error)
}

// TrustedIssuer lets an external issuer's JWTs be exchanged for access tokens
// through the RFC 7523 jwt-bearer grant.
type TrustedIssuer struct {
	ID     string // UUID
	Issuer string
	// Subject the issuer may assert; "" means any subject.
	Subject string
	KeyID   string
	// PublicKey is the public JWK (JSON) that verifies the issuer's JWTs.
	PublicKey json.RawMessage
	Scopes    []string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// TrustedIssuers stores trust relationships for the jwt-bearer grant.
type TrustedIssuers interface {
	// CreateTrustedIssuer returns ErrConflict if (issuer, subject, key id) exists.
	CreateTrustedIssuer(ctx context.Context, t TrustedIssuer) error
	// ListTrustedIssuers returns every trust relationship.
	ListTrustedIssuers(ctx context.Context) ([]TrustedIssuer, error)
	// FindTrustedIssuerKeys returns the unexpired relationships for issuer that
	// allow subject (exact match or any-subject), optionally narrowed to one
	// key id ("" for all keys).
	FindTrustedIssuerKeys(ctx context.Context, issuer, subject, keyID string, now time.Time) ([]TrustedIssuer, error)
	// DeleteTrustedIssuer returns ErrNotFound if absent.
	DeleteTrustedIssuer(ctx context.Context, id string) error
}
