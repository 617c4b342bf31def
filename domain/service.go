package domain

// API CONTRACT (issue 3). Signatures and doc comments here are the contract
// that admin/, consent/, provider/ and cmd/ code against. The bodies that
// return errNotImplemented are being written now; keep every signature.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

var errNotImplemented = errors.New("domain: not implemented yet")

// Errors the entry points map to responses. Store errors pass through
// wrapped: errors.Is(err, store.ErrNotFound) is a 404, store.ErrConflict a
// 409; *ValidationError / ValidationErrors a 422.
var (
	// ErrForbidden: the actor may not do this (beyond the route's permission:
	// e.g. a personal token wider than its owner's permissions).
	ErrForbidden = errors.New("domain: forbidden")
	// ErrInvalidCredentials: a sign-in failed. Deliberately says nothing of
	// why (unknown user, wrong password, locked, disabled).
	ErrInvalidCredentials = errors.New("domain: invalid credentials")
	// ErrUnauthenticated: an API token is unknown, expired, revoked, or its
	// principal is no longer active.
	ErrUnauthenticated = errors.New("domain: unauthenticated")
)

// ValidationErrors reports several field problems at once.
type ValidationErrors []*ValidationError

func (v ValidationErrors) Error() string {
	s := ""
	for i, e := range v {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

// Actor is who performs an operation, as the audit log records it.
type Actor struct {
	Type store.ActorType
	ID   string // user id, client id; "" for the CLI and the system
	IP   string
}

// CLIActor is the actor of every CLI command.
func CLIActor() Actor { return Actor{Type: store.ActorCLI} }

// String is "user:<id>", "client:<id>", "cli", "system" or "anonymous";
// used for AccessRequest.DecidedBy and APIToken.CreatedBy.
func (a Actor) String() string {
	if a.ID == "" {
		return string(a.Type)
	}
	return string(a.Type) + ":" + a.ID
}

// Principal is an authenticated caller with its effective permissions.
type Principal struct {
	Actor Actor
	// User is set for users (and their API tokens).
	User *store.User
	// Client is set for service accounts (client_credentials clients and
	// system API tokens).
	Client *store.Client
	// Roles are the effective role names (own, groups', and ancestors).
	Roles []string
	// Permissions are the effective permissions, narrowed by the token's
	// scopes for API tokens.
	Permissions map[string]bool
	// APITokenID is set when the caller used an API token.
	APITokenID string
}

// Can reports whether the principal holds the permission.
func (p Principal) Can(permission string) bool { return p.Permissions[permission] }

// Notifier tells a user about the decision on its access request. Called
// after the decision is committed; a failure is logged, never undoes it.
type Notifier interface {
	AccessRequestDecided(ctx context.Context, u store.User, r store.AccessRequest) error
}

// Options configure a Service.
type Options struct {
	Passwords Passwords
	Now       func() time.Time
	Notifier  Notifier // nil: no notification
	Logger    *slog.Logger
	// LockoutThreshold failed sign-ins in a row lock the user for
	// LockoutDuration (defaults 5 and 15m).
	LockoutThreshold int
	LockoutDuration  time.Duration
	// Maximum API token lifetimes (defaults 90 days for personal and user
	// tokens, 365 days for system tokens).
	MaxUserTokenLifetime   time.Duration
	MaxSystemTokenLifetime time.Duration
}

// Service applies the identity model's rules. Every mutation and its audit
// entry are written in one store transaction.
type Service struct {
	store store.Store
	iam   store.IAM
	opts  Options
}

// NewService returns a Service over s.
func NewService(s store.Store, opts Options) *Service {
	// TODO(lead): store.Store will embed store.IAM once both backends
	// implement it; until then the IAM half is found by assertion.
	iam, _ := s.(store.IAM)
	return &Service{store: s, iam: iam, opts: opts}
}

// ---------------------------------------------------------------------------
// Users

// NewUser is the input of CreateUser.
type NewUser struct {
	Username      string
	Email         string
	Password      string // "" for none (upstream sign-in only, later)
	FullName      string
	Department    string
	Goals         []string
	Preferences   json.RawMessage
	Status        store.UserStatus // "" means pending without roles, active with roles
	Roles         []string
	EmailVerified bool
	ExpiresAt     *time.Time
}

// UserPatch is a partial update; nil fields are left alone. ExpiresAt set
// to a pointer to nil clears the expiry.
type UserPatch struct {
	Username      *string
	Email         *string
	FullName      *string
	Department    *string
	Goals         *[]string
	Preferences   *json.RawMessage
	EmailVerified *bool
	ExpiresAt     **time.Time
}

// CreateUser validates (every problem at once, as ValidationErrors), hashes
// the password and stores the user with its audit entry "user.create".
func (s *Service) CreateUser(ctx context.Context, a Actor, in NewUser) (store.User, error) {
	return store.User{}, errNotImplemented
}

// GetUser returns store.ErrNotFound (wrapped) if absent.
func (s *Service) GetUser(ctx context.Context, id string) (store.User, error) {
	return store.User{}, errNotImplemented
}

// ListUsers lists users (limit capped at 200).
func (s *Service) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	return nil, errNotImplemented
}

// UpdateUser applies p ("user.update", with the before/after of each
// changed field).
func (s *Service) UpdateUser(ctx context.Context, a Actor, id string, p UserPatch) (store.User, error) {
	return store.User{}, errNotImplemented
}

// SetUserStatus moves the user to active, locked or disabled ("user.status";
// locking or disabling ends its login sessions and revokes its grants and
// API tokens' usability).
func (s *Service) SetUserStatus(ctx context.Context, a Actor, id string, status store.UserStatus) (store.User, error) {
	return store.User{}, errNotImplemented
}

// SetUserRoles replaces the user's roles ("user.roles").
func (s *Service) SetUserRoles(ctx context.Context, a Actor, id string, roles []string) (store.User, error) {
	return store.User{}, errNotImplemented
}

// SetPassword replaces the user's password after checking the policy
// ("user.password", recorded as {"password": {"after": "changed"}} only).
// When current is not nil it must match the present password (self-service).
func (s *Service) SetPassword(ctx context.Context, a Actor, id string, current *string, password string) error {
	return errNotImplemented
}

// DeleteUser soft-deletes (status disabled, sessions ended: "user.disable")
// or, with hard, removes the user and everything that belongs to it
// ("user.delete"; the audit entry is the only trace left).
func (s *Service) DeleteUser(ctx context.Context, a Actor, id string, hard bool) error {
	return errNotImplemented
}

// GoalSuggestions returns the suggested goals of the role and its ancestors,
// nearest first, without duplicates; store.ErrNotFound if no such role.
func (s *Service) GoalSuggestions(ctx context.Context, role string) ([]string, error) {
	return nil, errNotImplemented
}

// ---------------------------------------------------------------------------
// Sign-in

// Authenticate checks a username (or email) and password: unknown users,
// wrong passwords, users not active or temporarily locked all give
// ErrInvalidCredentials, in equal time. Failures count toward the lockout
// ("login.failure", and "user.lock" when it locks); success resets the count
// and re-hashes an old-parameter hash ("login.success"). A pending user
// whose password is right is returned with a nil error: the caller sends it
// to the request-access page.
func (s *Service) Authenticate(ctx context.Context, username, password, ip string) (store.User, error) {
	return store.User{}, errNotImplemented
}

// Record appends an audit entry outside any other change (logout, session
// revocation, token revocation through OAuth).
func (s *Service) Record(ctx context.Context, e store.AuditEntry) error {
	return errNotImplemented
}

// ---------------------------------------------------------------------------
// Roles and permissions

// RolePatch is a partial update of a role.
type RolePatch struct {
	Description    *string
	Parent         *string
	Permissions    *[]string
	SuggestedGoals *[]string
}

// CreateRole validates (name 2–50 of [a-z0-9_-], parent exists, no cycle,
// known permissions) and stores the role ("role.create").
func (s *Service) CreateRole(ctx context.Context, a Actor, r store.Role) (store.Role, error) {
	return store.Role{}, errNotImplemented
}

// GetRole returns store.ErrNotFound if absent.
func (s *Service) GetRole(ctx context.Context, name string) (store.Role, error) {
	return store.Role{}, errNotImplemented
}

// ListRoles returns every role by name.
func (s *Service) ListRoles(ctx context.Context) ([]store.Role, error) {
	return nil, errNotImplemented
}

// UpdateRole applies p ("role.update"); a change of parent may not make a
// cycle; built-in roles keep their parent and permissions.
func (s *Service) UpdateRole(ctx context.Context, a Actor, name string, p RolePatch) (store.Role, error) {
	return store.Role{}, errNotImplemented
}

// DeleteRole removes a custom role that nobody holds and no role inherits
// ("role.delete"); store.ErrConflict otherwise.
func (s *Service) DeleteRole(ctx context.Context, a Actor, name string) error {
	return errNotImplemented
}

// ImportRoles creates or updates the roles of a YAML document
// (`roles: [{name, description, parent, permissions, suggested_goals}]`),
// parents before children, in one transaction.
func (s *Service) ImportRoles(ctx context.Context, a Actor, yamlDoc []byte) (created, updated int, err error) {
	return 0, 0, errNotImplemented
}

// KnownPermissions lists every permission a role may carry.
func KnownPermissions() []string {
	return []string{
		store.PermProfileRead, store.PermDashboardsRead, store.PermProfileWrite, store.PermTokensSelf,
		store.PermUsersRead, store.PermUsersWrite, store.PermUsersStatus, store.PermUsersRoles,
		store.PermUsersDelete, store.PermRolesWrite, store.PermGroupsWrite, store.PermAccessRequestsReview,
		store.PermTokensUsers, store.PermTokensSystem, store.PermClientsWrite, store.PermAuditRead,
		store.PermSessionsRevoke, store.PermSettingsWrite,
	}
}

// EffectiveRoles returns the user's roles and its groups' roles, closed
// over the role hierarchy, sorted.
func (s *Service) EffectiveRoles(ctx context.Context, u store.User) ([]string, error) {
	return nil, errNotImplemented
}

// UserPrincipal builds the principal of an active user.
func (s *Service) UserPrincipal(ctx context.Context, u store.User) (Principal, error) {
	return Principal{}, errNotImplemented
}

// ClientPrincipal builds the principal of a service account (a client acting
// for itself, with the roles the client was given).
func (s *Service) ClientPrincipal(ctx context.Context, c store.Client) (Principal, error) {
	return Principal{}, errNotImplemented
}

// ---------------------------------------------------------------------------
// Groups

// NewGroup is the input of CreateGroup.
type NewGroup struct {
	Name        string
	Description string
	Roles       []string
}

// GroupPatch is a partial update of a group.
type GroupPatch struct {
	Name        *string
	Description *string
	Roles       *[]string
}

// CreateGroup validates and stores a group ("group.create").
func (s *Service) CreateGroup(ctx context.Context, a Actor, in NewGroup) (store.Group, error) {
	return store.Group{}, errNotImplemented
}

// GetGroup returns store.ErrNotFound if absent.
func (s *Service) GetGroup(ctx context.Context, id string) (store.Group, []string, error) {
	return store.Group{}, nil, errNotImplemented
}

// ListGroups returns every group by name.
func (s *Service) ListGroups(ctx context.Context) ([]store.Group, error) {
	return nil, errNotImplemented
}

// UpdateGroup applies p ("group.update").
func (s *Service) UpdateGroup(ctx context.Context, a Actor, id string, p GroupPatch) (store.Group, error) {
	return store.Group{}, errNotImplemented
}

// DeleteGroup removes the group ("group.delete").
func (s *Service) DeleteGroup(ctx context.Context, a Actor, id string) error {
	return errNotImplemented
}

// AddGroupMember adds the user ("group.member.add").
func (s *Service) AddGroupMember(ctx context.Context, a Actor, groupID, userID string) error {
	return errNotImplemented
}

// RemoveGroupMember removes the user ("group.member.remove").
func (s *Service) RemoveGroupMember(ctx context.Context, a Actor, groupID, userID string) error {
	return errNotImplemented
}

// ---------------------------------------------------------------------------
// Access requests

// SubmitAccessRequest records a pending user's request for a role
// ("access_request.create"). The user must be pending; the role must exist
// and not be admin; purpose 1–1000 characters; one pending request at a
// time (store.ErrConflict).
func (s *Service) SubmitAccessRequest(ctx context.Context, a Actor, userID, role, purpose string) (store.AccessRequest, error) {
	return store.AccessRequest{}, errNotImplemented
}

// PendingAccessRequest returns the user's pending request, or nil.
func (s *Service) PendingAccessRequest(ctx context.Context, userID string) (*store.AccessRequest, error) {
	return nil, errNotImplemented
}

// GetAccessRequest returns store.ErrNotFound if absent.
func (s *Service) GetAccessRequest(ctx context.Context, id string) (store.AccessRequest, error) {
	return store.AccessRequest{}, errNotImplemented
}

// ListAccessRequests lists requests newest first.
func (s *Service) ListAccessRequests(ctx context.Context, f store.AccessRequestFilter) ([]store.AccessRequest, error) {
	return nil, errNotImplemented
}

// ApproveAccessRequest grants role ("" = the requested one) and makes the
// user active, in one transaction with the decision and its audit entry
// ("access_request.approve"); then notifies the user. A request no longer
// pending is store.ErrConflict. Granting admin needs users:roles.
func (s *Service) ApproveAccessRequest(ctx context.Context, p Principal, id, role, comment string) (store.AccessRequest, error) {
	return store.AccessRequest{}, errNotImplemented
}

// DenyAccessRequest denies with a comment ("access_request.deny"), then
// notifies the user; store.ErrConflict if no longer pending.
func (s *Service) DenyAccessRequest(ctx context.Context, p Principal, id, comment string) (store.AccessRequest, error) {
	return store.AccessRequest{}, errNotImplemented
}

// ---------------------------------------------------------------------------
// API tokens

// APITokenPrefix starts every API token secret, so secret scanners find them.
const APITokenPrefix = "gh_pat_"

// NewAPIToken is the input of IssueAPIToken.
type NewAPIToken struct {
	Name string
	Kind store.APITokenKind
	// UserID: the user a TokenUser acts as (TokenPersonal: the caller).
	UserID string
	// ClientID: the service account a TokenSystem acts as.
	ClientID string
	// Scopes: permissions; empty means all of the principal's.
	Scopes    []string
	ExpiresIn time.Duration // 0 = the maximum for the kind
}

// IssueAPIToken makes a token and returns it with its secret (shown once;
// only the digest is stored; "token.create"). personal needs tokens:self
// and scopes within the caller's own permissions; user needs tokens:users
// and scopes within the target user's; system needs tokens:system and a
// client with roles. ErrForbidden when the scopes are wider.
func (s *Service) IssueAPIToken(ctx context.Context, p Principal, in NewAPIToken) (store.APIToken, string, error) {
	return store.APIToken{}, "", errNotImplemented
}

// ListAPITokens lists the tokens p may see: its own; with tokens:users also
// every personal and user token; with tokens:system every token.
func (s *Service) ListAPITokens(ctx context.Context, p Principal) ([]store.APIToken, error) {
	return nil, errNotImplemented
}

// RevokeAPIToken revokes a token p may see ("token.revoke"); revocation is
// effective at the next request.
func (s *Service) RevokeAPIToken(ctx context.Context, p Principal, id string) error {
	return errNotImplemented
}

// AuthenticateAPIToken returns the principal of an API token secret (its
// permissions narrowed to the token's scopes) and records its use;
// ErrUnauthenticated if unknown, expired, revoked or its principal inactive.
func (s *Service) AuthenticateAPIToken(ctx context.Context, secret, ip string) (Principal, error) {
	return Principal{}, errNotImplemented
}

// ---------------------------------------------------------------------------
// Audit

// ListAudit lists audit entries newest first (limit capped at 200).
func (s *Service) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	return nil, errNotImplemented
}

// ---------------------------------------------------------------------------
// Clients

// ClientPatch is a partial update of a client; nil fields are left alone.
type ClientPatch struct {
	Name                   *string
	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	AllowedOrigins         *[]string
	GrantTypes             *[]string
	Scopes                 *[]string
	Audience               *[]string
	Roles                  *[]string
	FirstParty             *bool
	AccessTokenFormat      *store.AccessTokenFormat
	Lifetimes              *store.Lifetimes
}

// CreateClient validates (ValidateClient) and stores c with a generated
// secret unless it is public or uses private_key_jwt ("client.create"). The
// secret is returned once; only its digest is stored.
func (s *Service) CreateClient(ctx context.Context, a Actor, c store.Client) (store.Client, string, error) {
	return store.Client{}, "", errNotImplemented
}

// GetClient returns store.ErrNotFound if absent.
func (s *Service) GetClient(ctx context.Context, id string) (store.Client, error) {
	return store.Client{}, errNotImplemented
}

// ListClients returns every client by id.
func (s *Service) ListClients(ctx context.Context) ([]store.Client, error) {
	return nil, errNotImplemented
}

// UpdateClient applies p after validating the result ("client.update").
func (s *Service) UpdateClient(ctx context.Context, a Actor, id string, p ClientPatch) (store.Client, error) {
	return store.Client{}, errNotImplemented
}

// DeleteClient removes the client with its grants and tokens ("client.delete").
func (s *Service) DeleteClient(ctx context.Context, a Actor, id string) error {
	return errNotImplemented
}

// ---------------------------------------------------------------------------
// Login sessions

// ListSessions returns the user's live browser sessions.
func (s *Service) ListSessions(ctx context.Context, userID string) ([]store.LoginSession, error) {
	return nil, errNotImplemented
}

// GetSession returns store.ErrNotFound if absent or expired.
func (s *Service) GetSession(ctx context.Context, id string) (store.LoginSession, error) {
	return store.LoginSession{}, errNotImplemented
}

// RevokeSession ends a session and revokes the tokens of the grants made in
// it ("session.revoke").
func (s *Service) RevokeSession(ctx context.Context, a Actor, sessionID string) error {
	return errNotImplemented
}
