package domain

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/gatehouse/gatehouse/cache"
	"github.com/gatehouse/gatehouse/store"
)

// Actor is who performs an operation, as the audit log records it. Type is
// required: a mutation with an empty Type is refused rather than recorded
// under nobody's name.
type Actor struct {
	Type store.ActorType
	ID   string // user id, client id; "" for the CLI and the system
	IP   string
	// Act is who acts on this actor's behalf (Actor.String of the issuer)
	// when the request carries a token one principal made for another;
	// "" when the actor acts for itself. Audit entries record both.
	Act string
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
	// Actor is {user, id} or {client, id}; the principal builders leave IP
	// empty and the caller fills it in from the request.
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
	// Authority, when set, is what the principal may do to other people
	// (see authority); API tokens set it to their principal's permissions
	// before the token's scopes narrow them.
	Authority map[string]bool
	// Issuer is set when the caller used a token someone else made for
	// it: the maker, as it stands now. The principal's Permissions are
	// already within the issuer's; Issuer is for the checks that are
	// about persons ("not your own request", "only roles you hold").
	Issuer *Principal
	// operator: see Operator.
	operator bool

	// Token exchange.
	// Exchanged: the caller presented a token made by token exchange
	// (RFC 8693), short-lived by design; it makes no credential that
	// would outlive it (API tokens).
	Exchanged bool

	// Areas (areas.go).
	// AreaScope, when not nil, is the ids of the areas whose subtrees this
	// request's user operations are confined to: the principal holds the
	// route's permission only through role grants within them
	// (AreaReach).
	AreaScope []string
}

// Can reports whether the principal holds the permission.
func (p Principal) Can(permission string) bool { return p.Permissions[permission] }

// maker is who a token this principal makes is recorded as made by: the
// one acting through a token someone made for it, if so, so that what it
// makes stays within that one's permissions too.
func (p Principal) maker() string {
	if p.Actor.Act != "" {
		return p.Actor.Act
	}
	return p.Actor.String()
}

// isOrActsFor reports whether the user with id is the principal, or the
// one acting through a token it made.
func (p Principal) isOrActsFor(userID string) bool {
	if p.User != nil && strings.EqualFold(p.User.ID, userID) {
		return true
	}
	return p.Issuer != nil && p.Issuer.isOrActsFor(userID)
}

// holdsRole reports whether the principal, and its issuer when it acts
// through someone else's token, both hold role.
func (p Principal) holdsRole(role string) bool {
	if !slices.Contains(p.Roles, role) {
		return false
	}
	return p.Issuer == nil || p.Issuer.holdsRole(role)
}

// Options configure a Service.
type Options struct {
	Passwords Passwords
	Now       func() time.Time
	Logger    *slog.Logger
	// LockoutThreshold failed sign-ins for one account from one address
	// (an IPv6 /64) within LockoutDuration refuse that address for that
	// account until LockoutDuration has passed since the last of them
	// (defaults 5 and 15m); other addresses are not affected.
	LockoutThreshold int
	LockoutDuration  time.Duration
	// AccountLockoutThreshold failed sign-ins for one account within
	// LockoutDuration, from all addresses together, lock the account for
	// everyone for LockoutDuration (default 100; negative: never). It is
	// never below LockoutThreshold.
	AccountLockoutThreshold int
	// Maximum API token lifetimes (defaults 90 days for personal and user
	// tokens, 365 days for system tokens).
	MaxUserTokenLifetime   time.Duration
	MaxSystemTokenLifetime time.Duration
	// OnChange is told of every client and role mutation the service
	// makes, once it is committed, so that the process's other caches
	// (the provider's clients) drop the record at once rather than when
	// the store's change feed reports it. nil: nobody else caches.
	OnChange func(store.ChangeEvent)
	// ConsentLifetime is how long a remembered consent lasts; 0 means
	// until revoked.
	ConsentLifetime time.Duration
	// CacheTTL bounds how long the cached role definitions are used
	// without an invalidation (default cache.DefaultTTL): a safety net,
	// since writes invalidate them.
	CacheTTL time.Duration
	// SignIns counts Authenticate's outcomes (nil: not counted).
	SignIns SignInRecorder
	// CacheRecorder is told of every lookup of the role cache ("roles");
	// nil: nobody.
	CacheRecorder cache.Recorder
	// SessionLimit is the number of live login sessions a user whose own
	// SessionLimit is nil may have (0: no limit; sessions.limit).
	SessionLimit int
	// SessionIdleTimeout ends a login session unused for longer (0: none;
	// sessions.idle_timeout); SessionLifetime one older than it, whatever
	// its stored expiry (0: the stored expiry only; lifetimes.login_session).
	SessionIdleTimeout time.Duration
	SessionLifetime    time.Duration
	// MFAKey (32 bytes, derived from the server secret) seals the secrets
	// of second factors at rest; without it no factor can be set up.
	MFAKey []byte
	// MFAIssuer names the server in authenticator apps (default
	// "gatehouse").
	MFAIssuer string
	// MFARequiredRoles: users holding one of these roles (effective
	// roles) must set up a second factor at their next sign-in.
	MFARequiredRoles []string
	// Passkeys configures the WebAuthn relying party; zero: no passkeys.
	Passkeys PasskeyConfig
	// Recovery configures password recovery and email verification.
	Recovery RecoveryOptions

	// BackChannel configures the back-channel logout queue.
	BackChannel BackChannelOptions
	// IdentityProviderKey (32 bytes, derived from the server secret) seals
	// upstream identity providers' client secrets at rest (idp).
	IdentityProviderKey []byte

	// Events and webhooks.
	// Webhooks configures the outbox of event deliveries.
	Webhooks WebhookOptions
	// WebhookKey (32 bytes, derived from the server secret) seals the
	// subscriptions' signing secrets at rest.
	WebhookKey []byte

	// Usage counts successful sign-ins for the usage analytics (nil: not
	// counted).
	Usage UsageCounter
}

// Defaults of the zero Options fields.
const (
	DefaultLockoutThreshold       = 5
	DefaultLockoutDuration        = 15 * time.Minute
	DefaultMaxUserTokenLifetime   = 90 * 24 * time.Hour
	DefaultMaxSystemTokenLifetime = 365 * 24 * time.Hour
)

// DefaultAccountLockoutThreshold is AccountLockoutThreshold's default: twenty
// addresses' worth of per-address failures.
const DefaultAccountLockoutThreshold = 100

// Service applies the identity model's rules. Every mutation and its audit
// entry are written in one store transaction.
type Service struct {
	store store.Store
	opts  Options
	// roles caches every role definition, which each sign-in, token and
	// API request expands a principal's roles with. Reads made to
	// validate a write do not use it: they must see the transaction's
	// view.
	roles *cache.Cache[struct{}, map[string]store.Role]
	// secrets seals factor secrets; nil without Options.MFAKey.
	secrets *secretBox
	// rp is the WebAuthn relying party; nil when passkeys are off.
	rp *webauthn.WebAuthn
	// idpSecrets seals identity providers' client secrets; nil without
	// Options.IdentityProviderKey.
	idpSecrets *secretBox
	// webhookSecrets seals subscriptions' signing secrets; nil without
	// Options.WebhookKey.
	webhookSecrets *secretBox
	// webhooks caches whether any subscription is enabled, so that an
	// audited write where none is (most installations) costs no outbox
	// statement (webhookTargets).
	webhooks *cache.Cache[struct{}, bool]
	// webhooksUnheard is set while the change feed is down: another
	// instance's new subscription would go unheard, so the cache is not
	// trusted until the feed is back (ChangeAll).
	webhooksUnheard atomic.Bool
}

// NewService returns a Service over s. Zero Options fields take the
// defaults above (Passwords: DefaultPasswords when BcryptCost is 0).
func NewService(s store.Store, opts Options) *Service {
	if opts.Passwords.BcryptCost == 0 {
		opts.Passwords.BcryptCost = DefaultPasswords.BcryptCost
	}
	if opts.Passwords.MinLength == 0 {
		opts.Passwords.MinLength = DefaultPasswords.MinLength
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LockoutThreshold <= 0 {
		opts.LockoutThreshold = DefaultLockoutThreshold
	}
	if opts.LockoutDuration <= 0 {
		opts.LockoutDuration = DefaultLockoutDuration
	}
	if opts.AccountLockoutThreshold == 0 {
		opts.AccountLockoutThreshold = DefaultAccountLockoutThreshold
	}
	if opts.AccountLockoutThreshold > 0 {
		// Below the per-address threshold one address would lock the
		// account for everyone, which the per-address count prevents.
		opts.AccountLockoutThreshold = max(opts.AccountLockoutThreshold, opts.LockoutThreshold)
	}
	if opts.MaxUserTokenLifetime <= 0 {
		opts.MaxUserTokenLifetime = DefaultMaxUserTokenLifetime
	}
	if opts.MaxSystemTokenLifetime <= 0 {
		opts.MaxSystemTokenLifetime = DefaultMaxSystemTokenLifetime
	}
	if opts.SignIns == nil {
		opts.SignIns = noSignInRecorder{}
	}
	if opts.Usage == nil {
		opts.Usage = noUsageCounter{}
	}
	if opts.MFAIssuer == "" {
		opts.MFAIssuer = "gatehouse"
	}
	if opts.BackChannel.MaxRows <= 0 {
		opts.BackChannel.MaxRows = DefaultLogoutQueueRows
	}
	if opts.Webhooks.MaxPending <= 0 {
		opts.Webhooks.MaxPending = DefaultWebhookMaxPending
	}
	opts.MFARequiredRoles = slices.Clone(opts.MFARequiredRoles)
	// A key of the wrong size leaves secrets nil: enrolment then fails
	// with an error naming the missing key rather than the server not
	// starting for a feature nobody uses.
	secrets, _ := newSecretBox(opts.MFAKey)
	idpSecrets, _ := newSecretBox(opts.IdentityProviderKey)
	webhookSecrets, _ := newSecretBox(opts.WebhookKey)
	rp, err := newRelyingParty(opts.Passkeys)
	if err != nil {
		// Configuration is validated before the service is built
		// (ValidatePasskeyConfig); if it still fails, sign-in by password
		// keeps working and passkeys are off.
		opts.Logger.Error("passkeys disabled", "error", err.Error())
	}
	return &Service{
		secrets: secrets,
		store:   s,
		opts:    opts,
		roles: cache.New[struct{}, map[string]store.Role](cache.Options{TTL: opts.CacheTTL, Now: opts.Now,
			Name: "roles", Recorder: opts.CacheRecorder}),
		rp:         rp,
		idpSecrets: idpSecrets,

		webhookSecrets: webhookSecrets,
		webhooks: cache.New[struct{}, bool](cache.Options{TTL: opts.CacheTTL, Now: opts.Now,
			Name: "webhooks", Recorder: opts.CacheRecorder}),
	}
}

// Passwords returns the password policy the service applies, so that pages
// and commands that check a password before calling the service agree
// with it.
func (s *Service) Passwords() Passwords { return s.opts.Passwords }

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// inTx runs fn in one store transaction; what is the operation's name in
// the wrapped error.
func (s *Service) inTx(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	if err := store.InTx(ctx, s.store, fn); err != nil {
		return fmt.Errorf("domain: %s: %w", what, err)
	}
	return nil
}
