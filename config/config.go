package config

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/domain"
)

// Config is the whole server configuration. The yaml tags are the keys of the
// configuration file; the environment variable of a field is GATEHOUSE_
// followed by its YAML path in upper case with '.' replaced by '_'
// (lifetimes.access_token -> GATEHOUSE_LIFETIMES_ACCESS_TOKEN).
type Config struct {
	// Issuer is the OpenID Provider's issuer identifier, the base URL every
	// endpoint is served under.
	Issuer string `yaml:"issuer"`
	// Addr is the host:port the HTTP server listens on.
	Addr string `yaml:"addr"`
	// DatabaseURL is the PostgreSQL connection string; required unless Dev.
	DatabaseURL string `yaml:"database_url"`
	// Database bounds the waits on DatabaseURL's server.
	Database Database `yaml:"database"`
	// Secret (at least 32 bytes) keys everything derived from the shared
	// secret: HMAC of opaque tokens, encryption of signing keys at rest,
	// cookies. Every instance sharing a database must use the same one.
	Secret string `yaml:"secret"`
	// Dev selects the embedded defaults: in-memory store, a generated secret,
	// plain http on any host.
	Dev bool `yaml:"dev"`

	Log       Log       `yaml:"log"`
	Lifetimes Lifetimes `yaml:"lifetimes"`

	RefreshToken RefreshToken `yaml:"refresh_token"`
	Cache        Cache        `yaml:"cache"`

	// AccessTokenFormat is opaque or jwt; clients may override it.
	AccessTokenFormat string `yaml:"access_token_format"`
	// SigningAlgorithm of new signing keys: RS256 or ES256.
	SigningAlgorithm string `yaml:"signing_algorithm"`

	Password Password `yaml:"password"`
	HTTP     HTTP     `yaml:"http"`

	Login        Login        `yaml:"login"`
	Sessions     Sessions     `yaml:"sessions"`
	Registration Registration `yaml:"registration"`
	MFA          MFA          `yaml:"mfa"`
	SMTP         SMTP         `yaml:"smtp"`
	Janitor      Janitor      `yaml:"janitor"`
	RateLimits   RateLimits   `yaml:"rate_limits"`
	WebAuthn     WebAuthn     `yaml:"webauthn"`

	Recovery          Recovery          `yaml:"recovery"`
	EmailVerification EmailVerification `yaml:"email_verification"`
	MailQueue         MailQueue         `yaml:"mail_queue"`

	Metrics Metrics `yaml:"metrics"`
	Tracing Tracing `yaml:"tracing"`

	// BackChannelLogout is the back-channel logout queue.
	BackChannelLogout BackChannelLogout `yaml:"back_channel_logout"`
	// Dynamic client registration (RFC 7591/7592), clientregistration.go.
	ClientRegistration ClientRegistration `yaml:"client_registration"`
	// IdentityProviders are the upstream OpenID Connect providers of the
	// login page (idp; config/identityproviders.go).
	IdentityProviders []IdentityProvider `yaml:"identity_providers"`
	// DeviceCode: the device authorization grant (devicecode.go).
	DeviceCode DeviceCode `yaml:"device_code"`
	// DPoP (RFC 9449) sender-constrained tokens.
	DPoP DPoP `yaml:"dpop"`

	// Events and webhooks: the outbox of deliveries (webhooks.go).
	Webhooks Webhooks `yaml:"webhooks"`

	// Usage analytics: flush interval and retention (usage.go).
	Usage Usage `yaml:"usage"`
	// Tokens: how client_credentials tokens are committed (groupcommit,
	// tokens.go).
	Tokens Tokens `yaml:"tokens"`
	// Runtime: the Go runtime's garbage collector (runtime.go).
	Runtime Runtime `yaml:"runtime"`
}

// DPoP configures the checks of DPoP proofs (RFC 9449).
type DPoP struct {
	// ProofWindow is how far a proof's iat may be from the server's time,
	// either way. Each proof's replay record is kept that long.
	ProofWindow time.Duration `yaml:"proof_window"`
	// RequireNonce makes the token endpoint demand a server nonce in every
	// proof (RFC 9449 §8): a proof cannot be made ahead of time.
	RequireNonce bool `yaml:"require_nonce"`
	// NonceLifetime is how long a server nonce is accepted (at least that,
	// at most twice it). Nonces are derived from the secret and the time,
	// so every instance accepts every other's.
	NonceLifetime time.Duration `yaml:"nonce_lifetime"`
}

// Bounds of the DPoP settings: a proof window of more than minutes would
// make pre-computed proofs useful, and the replay table large.
const (
	MaxDPoPProofWindow   = 10 * time.Minute
	MinDPoPNonceLifetime = 10 * time.Second
	MaxDPoPNonceLifetime = time.Hour
)

// Database bounds how long the server waits for PostgreSQL, so that a
// database that stalls or vanishes costs a request a short, known time and
// a 503 answer rather than a hang (README "Failure behaviour").
type Database struct {
	// ConnectTimeout bounds opening one connection: dial, TLS and
	// authentication. A connect_timeout in the database URL wins.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// QueryTimeout bounds each statement, the wait for a free connection
	// included. A request whose statement runs out of it is answered 503
	// with Retry-After. It must leave a request time to answer within
	// http.write_timeout. The server side gets it too, as the sessions'
	// statement_timeout (and twice it as idle_in_transaction_session_timeout).
	QueryTimeout time.Duration `yaml:"query_timeout"`
}

// Metrics configures where the Prometheus metrics are served.
type Metrics struct {
	// Addr, when set, is a host:port of their own for /metrics (say an
	// address only the monitoring network reaches), and the main listener
	// no longer serves them. Empty: /metrics on the main listener.
	Addr string `yaml:"addr"`
}

// Tracing configures OpenTelemetry tracing of requests. Where the spans
// go (endpoint, headers, sampler, resource) is read from the standard
// OTEL_* variables; setting OTEL_EXPORTER_OTLP_ENDPOINT (or its _TRACES_
// variant) turns tracing on as well.
type Tracing struct {
	Enabled bool `yaml:"enabled"`
}

// Janitor is the background deletion of expired codes, tokens, sessions and
// JWT ids. Every instance runs it; its deletes are idempotent.
type Janitor struct {
	Interval  time.Duration `yaml:"interval"`
	BatchSize int           `yaml:"batch_size"`
}

// Login is the sign-in policy: failures are counted per (account, client
// address), so that guessing from one address soon stops while the owner,
// elsewhere, still signs in; an account-wide threshold stops guessing
// spread over many addresses.
type Login struct {
	// MaxFailures failed sign-ins for one account from one address (an
	// IPv6 /64) within Lockout refuse that address for that account until
	// Lockout has passed since the last of them.
	MaxFailures int           `yaml:"max_failures"`
	Lockout     time.Duration `yaml:"lockout"`
	// AccountMaxFailures failed sign-ins for one account within Lockout,
	// from all addresses together, lock the account for everyone for
	// Lockout (a distributed attack). 0 turns the account-wide lock off.
	AccountMaxFailures int `yaml:"account_max_failures"`
}

// RateLimits are the per-client-address request limits, one per class of
// route. A class whose PerMinute is 0 is not limited.
type RateLimits struct {
	// SignIn: the POSTs of sign-in, registration, password recovery,
	// passkeys, the second factor and verification resends.
	SignIn RateLimit `yaml:"sign_in"`
	// Token: the token, introspection and revocation endpoints.
	Token RateLimit `yaml:"token"`
	// API: the resource API under /api/v1.
	API RateLimit `yaml:"api"`
	// Default: every other route (pages, discovery, JWKS, authorize).
	Default RateLimit `yaml:"default"`
	// MaxAddresses bounds the addresses each class tracks (about 100 bytes
	// each); past it the least recently seen is forgotten.
	MaxAddresses int `yaml:"max_addresses"`
}

// RateLimit allows PerMinute requests a minute from one address (an IPv6
// /64) in the long run, and Burst at once.
type RateLimit struct {
	PerMinute int `yaml:"per_minute"`
	Burst     int `yaml:"burst"`
}

// Sessions is the policy of browser login sessions. Their absolute
// lifetime is lifetimes.login_session.
type Sessions struct {
	// Limit is how many live login sessions a user may have at once, for
	// users whose own session_limit is unset: a sign-in over it ends the
	// oldest ones, with their grants' tokens. 0: no limit.
	Limit int `yaml:"limit"`
	// IdleTimeout ends a login session that has not been used for that
	// long (the user signs in again). 0: no idle timeout.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// Registration configures self-service sign-up.
type Registration struct {
	// Enabled lets anyone create an account at /register. New accounts are
	// pending: they can only ask for access until a manager grants it.
	Enabled bool `yaml:"enabled"`
	// RequireVerifiedEmail makes a self-registered (pending) user follow
	// its email verification link before it may request access. It needs
	// smtp.host: without mail nobody could verify.
	RequireVerifiedEmail bool `yaml:"require_verified_email"`
}

// Recovery is password recovery by an emailed single-use link (needs SMTP).
type Recovery struct {
	// TicketLifetime is how long a reset link works.
	TicketLifetime time.Duration `yaml:"ticket_lifetime"`
}

// EmailVerification is the proof of a user's address by an emailed link,
// sent when SMTP is configured.
type EmailVerification struct {
	// Lifetime is how long a verification link works.
	Lifetime time.Duration `yaml:"lifetime"`
}

// MailQueue is the durable outbox recovery and verification mail waits in,
// and its sender (one per instance; they share the rows).
type MailQueue struct {
	// MaxAttempts delivery attempts, each after a longer wait, and a
	// message is given up (deleted, logged).
	MaxAttempts int `yaml:"max_attempts"`
	// MaxAge gives a message up however few attempts it had: its links
	// have expired by then.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxRows bounds the outbox: past it, new mail is refused (the page or
	// API call that wanted to send it says so) rather than the table grown.
	MaxRows int `yaml:"max_rows"`
	// PollInterval is how often the sender looks for due mail.
	PollInterval time.Duration `yaml:"poll_interval"`
}

// MFA configures multi-factor sign-in (README "Multi-factor authentication").
type MFA struct {
	// RequiredRoles: a user holding one of these roles (directly, through
	// a group or as an ancestor) who has no second factor is sent to set
	// one up at the next sign-in, and cannot finish it without. From the
	// environment: a comma-separated list.
	RequiredRoles []string `yaml:"required_roles"`
}

// SMTP is the mail server that tells users about decisions on their access
// requests. An empty Host turns email off.
type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	// Password may also come from GATEHOUSE_SMTP_PASSWORD_FILE.
	Password string `yaml:"password"`
	// From is the sender address, e.g. "gatehouse <no-reply@example.com>".
	From string `yaml:"from"`
	// RequireTLS refuses to send unless the server offers STARTTLS.
	RequireTLS bool `yaml:"require_tls"`
}

// Log configures the structured logger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json, text
}

// Lifetimes are the server-wide token lifetimes; clients may override them.
type Lifetimes struct {
	AuthorizationCode time.Duration `yaml:"authorization_code"`
	AccessToken       time.Duration `yaml:"access_token"`
	IDToken           time.Duration `yaml:"id_token"`
	RefreshToken      time.Duration `yaml:"refresh_token"`
	LoginSession      time.Duration `yaml:"login_session"`
	// Consent is how long a remembered consent lasts; 0 keeps it until the
	// user revokes it.
	Consent time.Duration `yaml:"consent"`
}

// RefreshToken is the rotation policy of refresh tokens.
type RefreshToken struct {
	// ReuseInterval is how long after a refresh the client may present the
	// refresh token it used once more and get a fresh pair, instead of the
	// grant being revoked for reuse: the retry of an answer that was lost
	// after the rotation committed. 0 turns it off.
	ReuseInterval time.Duration `yaml:"reuse_interval"`
}

// Cache sizes the in-process caches.
type Cache struct {
	// IntrospectionEntries bounds the cache of active access tokens that
	// introspection answers from without a query (README "Introspection
	// cache"); 0 turns it off.
	IntrospectionEntries int `yaml:"introspection_entries"`
	// PrincipalEntries bounds the resource API's cache of token principals
	// (the user with its effective permissions, or the service account),
	// by token digest (README "API principal cache"); 0 turns it off.
	PrincipalEntries int `yaml:"principal_entries"`
}

// MaxIntrospectionEntries bounds cache.introspection_entries: an entry
// holds a decoded session (a few KB), and the server must stay small.
const MaxIntrospectionEntries = 1_000_000

// MaxRefreshReuseInterval bounds refresh_token.reuse_interval: for that
// long a stolen, just-rotated token can be swapped for a live pair (once,
// by its client, killing the pair the client holds), so it is meant to be
// seconds, the time a client takes to retry.
const MaxRefreshReuseInterval = 5 * time.Minute

// Password is the policy for human passwords.
type Password struct {
	MinLength  int `yaml:"min_length"`
	BcryptCost int `yaml:"bcrypt_cost"`
}

// HTTP holds the server's limits. Every timeout exists so that a slow or
// malicious client cannot hold a connection open indefinitely.
type HTTP struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxBodyBytes      int64         `yaml:"max_body_bytes"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	// TrustedProxies are the CIDR prefixes (or addresses) of the reverse
	// proxies in front of the server: only a request from one of them has
	// its X-Forwarded-For read for the client's address. Empty: the peer's
	// address is the client's, and the header is ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TrustedProxyPrefixes returns TrustedProxies parsed (single addresses as
// /32 or /128); entries that do not parse, which Validate refuses, are left
// out.
func (h HTTP) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		if p, err := domain.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Default returns the configuration used for every field that neither the
// file nor the environment sets.
func Default() Config {
	return Config{
		Issuer:   "http://localhost:8080",
		Addr:     ":8080",
		Database: Database{ConnectTimeout: time.Second, QueryTimeout: 2 * time.Second},
		Log:      Log{Level: "info", Format: "json"},
		Lifetimes: Lifetimes{
			AuthorizationCode: 10 * time.Minute,
			AccessToken:       60 * time.Minute,
			IDToken:           60 * time.Minute,
			RefreshToken:      1440 * time.Hour,
			LoginSession:      24 * time.Hour,
			Consent:           0,
		},
		RefreshToken:      RefreshToken{ReuseInterval: 10 * time.Second},
		Cache:             Cache{IntrospectionEntries: 10_000, PrincipalEntries: 10_000},
		AccessTokenFormat: "opaque",
		SigningAlgorithm:  "RS256",
		Password:          Password{MinLength: 8, BcryptCost: 12},
		HTTP: HTTP{
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxBodyBytes:      1 << 20,
			MaxHeaderBytes:    64 << 10,
		},
		Login:   Login{MaxFailures: 5, Lockout: 15 * time.Minute, AccountMaxFailures: 100},
		SMTP:    SMTP{Port: 587},
		Janitor: Janitor{Interval: time.Minute, BatchSize: 500},
		RateLimits: RateLimits{
			SignIn:       RateLimit{PerMinute: 30, Burst: 20},
			Token:        RateLimit{PerMinute: 1200, Burst: 300},
			API:          RateLimit{PerMinute: 1200, Burst: 300},
			Default:      RateLimit{PerMinute: 1200, Burst: 300},
			MaxAddresses: 100_000,
		},

		WebAuthn: WebAuthn{Enabled: true, RPName: "gatehouse"},

		Recovery:          Recovery{TicketLifetime: time.Hour},
		EmailVerification: EmailVerification{Lifetime: 24 * time.Hour},
		MailQueue:         MailQueue{MaxAttempts: 8, MaxAge: 24 * time.Hour, MaxRows: 10000, PollInterval: 2 * time.Second},

		BackChannelLogout:  defaultBackChannelLogout(),
		ClientRegistration: defaultClientRegistration(),
		DeviceCode:         defaultDeviceCode(),
		DPoP:               DPoP{ProofWindow: time.Minute, NonceLifetime: 5 * time.Minute},

		// Events and webhooks.
		Webhooks: defaultWebhooks(),

		// Usage analytics.
		Usage: defaultUsage(),
		// Group commit of client_credentials tokens.
		Tokens: defaultTokens(),
		// The garbage collector.
		Runtime: defaultRuntime(),
	}
}

// CookieSecure reports whether cookies must carry the Secure attribute: they
// must whenever the issuer is served over https, and cannot be otherwise
// because browsers drop Secure cookies set over plain http.
func (c Config) CookieSecure() bool {
	u, err := url.Parse(c.Issuer)
	return err == nil && u.Scheme == "https"
}

// devSecretBytes is the entropy of a generated development secret.
const devSecretBytes = 32

// FillDevSecret gives a dev configuration without a secret a random one read
// from random (crypto/rand.Reader in production), reporting whether it did.
// It is a no-op outside dev mode or when a secret is set. Call it after the
// CLI's flags are applied (they may turn dev mode on) and before Validate.
// A generated secret lives only as long as the process, so tokens and
// sessions do not survive a restart; that is acceptable only in dev mode.
func (c *Config) FillDevSecret(random io.Reader) (bool, error) {
	if !c.Dev || c.Secret != "" {
		return false, nil
	}
	b := make([]byte, devSecretBytes)
	if _, err := io.ReadFull(random, b); err != nil {
		return false, fmt.Errorf("config: generate dev secret: %w", err)
	}
	c.Secret = hex.EncodeToString(b)
	return true, nil
}
