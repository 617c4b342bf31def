package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/domain"
)

// Problem is one broken rule: the YAML path of the field (or the environment
// variable, for values that could not be parsed) and what is wrong with it.
type Problem struct {
	Field   string
	Message string
}

// ValidationError lists every problem of a configuration, so an operator can
// fix them in one go instead of one restart per mistake.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Field)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// MinSecretBytes is the shortest accepted secret: 256 bits, the key size of
// the HMAC and AEAD constructions derived from it.
const MinSecretBytes = 32

// check is one rule of the validation table. It returns "" when the rule
// holds and otherwise why it does not.
type check struct {
	field string
	rule  func(c Config) string
}

// rateLimitCheck checks one class of rate_limits: a negative rate or a burst
// below 1 (with a rate) is a typo, not a policy.
func rateLimitCheck(class string, get func(c Config) RateLimit) check {
	return check{"rate_limits." + class, func(c Config) string {
		l := get(c)
		switch {
		case l.PerMinute < 0:
			return fmt.Sprintf("per_minute must be 0 (off) or positive, got %d", l.PerMinute)
		case l.PerMinute > 0 && l.Burst < 1:
			return fmt.Sprintf("burst must be at least 1, got %d", l.Burst)
		}
		return ""
	}}
}

// checks returns the validation table. It is a function rather than a
// package variable so the package holds no mutable state.
func checks() []check {
	positive := func(get func(c Config) time.Duration) func(c Config) string {
		return func(c Config) string {
			if get(c) <= 0 {
				return fmt.Sprintf("must be a positive duration, got %s", get(c))
			}
			return ""
		}
	}
	return append([]check{
		{"issuer", checkIssuer},
		{"identity_providers", checkIdentityProviders},
		{"webauthn", checkWebAuthn},
		{"client_registration", checkClientRegistration},
		{"addr", func(c Config) string { return checkAddr(c.Addr) }},
		{"database_url", func(c Config) string {
			if c.DatabaseURL == "" && !c.Dev {
				return "is required unless dev is true"
			}
			return ""
		}},
		{"database.connect_timeout", positive(func(c Config) time.Duration { return c.Database.ConnectTimeout })},
		{"database.query_timeout", func(c Config) string {
			if msg := positive(func(c Config) time.Duration { return c.Database.QueryTimeout })(c); msg != "" {
				return msg
			}
			// A request may meet more than one slow statement, and must
			// still be answered (503) before the server gives up writing.
			if c.HTTP.WriteTimeout > 0 && c.Database.QueryTimeout > c.HTTP.WriteTimeout/2 {
				return fmt.Sprintf("must be at most half of http.write_timeout (%s), got %s", c.HTTP.WriteTimeout, c.Database.QueryTimeout)
			}
			return ""
		}},
		{"secret", func(c Config) string {
			// The length only: the value itself must never appear in an
			// error, which ends up in logs.
			if len(c.Secret) < MinSecretBytes {
				return fmt.Sprintf("must be at least %d bytes, got %d", MinSecretBytes, len(c.Secret))
			}
			return ""
		}},
		{"log.level", func(c Config) string { return oneOf(c.Log.Level, "debug", "info", "warn", "error") }},
		{"log.format", func(c Config) string { return oneOf(c.Log.Format, "json", "text") }},
		{"lifetimes.authorization_code", positive(func(c Config) time.Duration { return c.Lifetimes.AuthorizationCode })},
		{"lifetimes.access_token", positive(func(c Config) time.Duration { return c.Lifetimes.AccessToken })},
		{"lifetimes.id_token", positive(func(c Config) time.Duration { return c.Lifetimes.IDToken })},
		{"lifetimes.refresh_token", positive(func(c Config) time.Duration { return c.Lifetimes.RefreshToken })},
		{"lifetimes.login_session", positive(func(c Config) time.Duration { return c.Lifetimes.LoginSession })},
		{"lifetimes.consent", func(c Config) string {
			if c.Lifetimes.Consent < 0 {
				return fmt.Sprintf("must not be negative (0 keeps consent until revoked), got %s", c.Lifetimes.Consent)
			}
			return ""
		}},
		{"refresh_token.reuse_interval", func(c Config) string {
			if d := c.RefreshToken.ReuseInterval; d < 0 || d > MaxRefreshReuseInterval {
				return fmt.Sprintf("must be between 0 (off) and %s, got %s", MaxRefreshReuseInterval, d)
			}
			return ""
		}},
		{"dpop.proof_window", func(c Config) string {
			if d := c.DPoP.ProofWindow; d < time.Second || d > MaxDPoPProofWindow {
				return fmt.Sprintf("must be between 1s and %s, got %s", MaxDPoPProofWindow, d)
			}
			return ""
		}},
		{"dpop.nonce_lifetime", func(c Config) string {
			if d := c.DPoP.NonceLifetime; d < MinDPoPNonceLifetime || d > MaxDPoPNonceLifetime {
				return fmt.Sprintf("must be between %s and %s, got %s", MinDPoPNonceLifetime, MaxDPoPNonceLifetime, d)
			}
			return ""
		}},
		{"cache.introspection_entries", func(c Config) string {
			if n := c.Cache.IntrospectionEntries; n < 0 || n > MaxIntrospectionEntries {
				return fmt.Sprintf("must be between 0 (off) and %d, got %d", MaxIntrospectionEntries, n)
			}
			return ""
		}},
		{"cache.principal_entries", func(c Config) string {
			if n := c.Cache.PrincipalEntries; n < 0 || n > MaxIntrospectionEntries {
				return fmt.Sprintf("must be between 0 (off) and %d, got %d", MaxIntrospectionEntries, n)
			}
			return ""
		}},
		{"access_token_format", func(c Config) string { return oneOf(c.AccessTokenFormat, "opaque", "jwt") }},
		{"signing_algorithm", func(c Config) string { return oneOf(c.SigningAlgorithm, "RS256", "ES256") }},
		{"password.min_length", func(c Config) string {
			if c.Password.MinLength < 8 {
				return fmt.Sprintf("must be at least 8, got %d", c.Password.MinLength)
			}
			return ""
		}},
		{"password.bcrypt_cost", func(c Config) string {
			// bcrypt's own bounds: below 4 it refuses, above 31 it overflows.
			if c.Password.BcryptCost < 4 || c.Password.BcryptCost > 31 {
				return fmt.Sprintf("must be between 4 and 31, got %d", c.Password.BcryptCost)
			}
			return ""
		}},
		{"http.read_header_timeout", positive(func(c Config) time.Duration { return c.HTTP.ReadHeaderTimeout })},
		{"http.read_timeout", positive(func(c Config) time.Duration { return c.HTTP.ReadTimeout })},
		{"http.write_timeout", positive(func(c Config) time.Duration { return c.HTTP.WriteTimeout })},
		{"http.idle_timeout", positive(func(c Config) time.Duration { return c.HTTP.IdleTimeout })},
		{"http.max_body_bytes", func(c Config) string {
			if c.HTTP.MaxBodyBytes < 1024 {
				return fmt.Sprintf("must be at least 1024 (1 KiB), got %d", c.HTTP.MaxBodyBytes)
			}
			return ""
		}},
		{"http.trusted_proxies", func(c Config) string {
			for i, p := range c.HTTP.TrustedProxies {
				if _, err := domain.ParsePrefix(p); err != nil {
					return fmt.Sprintf("entry %d (%q) %s", i, p, err)
				}
			}
			return ""
		}},
		{"sessions.limit", func(c Config) string {
			if c.Sessions.Limit < 0 {
				return fmt.Sprintf("must not be negative (0 is no limit), got %d", c.Sessions.Limit)
			}
			return ""
		}},
		{"sessions.idle_timeout", func(c Config) string {
			if d := c.Sessions.IdleTimeout; d < 0 {
				return fmt.Sprintf("must not be negative (0 is no idle timeout), got %s", d)
			}
			return ""
		}},
		{"http.max_header_bytes", func(c Config) string {
			if c.HTTP.MaxHeaderBytes < 1024 {
				return fmt.Sprintf("must be at least 1024 (1 KiB), got %d", c.HTTP.MaxHeaderBytes)
			}
			return ""
		}},
		{"login.max_failures", func(c Config) string {
			if c.Login.MaxFailures < 1 {
				return fmt.Sprintf("must be at least 1, got %d", c.Login.MaxFailures)
			}
			return ""
		}},
		{"login.lockout", positive(func(c Config) time.Duration { return c.Login.Lockout })},
		{"login.account_max_failures", func(c Config) string {
			// Below the per-address threshold, one address would lock the
			// account for everyone: the self-inflicted denial of service
			// the per-address count exists to prevent.
			if n := c.Login.AccountMaxFailures; n != 0 && n < c.Login.MaxFailures {
				return fmt.Sprintf("must be 0 (off) or at least login.max_failures (%d), got %d", c.Login.MaxFailures, n)
			}
			return ""
		}},
		rateLimitCheck("sign_in", func(c Config) RateLimit { return c.RateLimits.SignIn }),
		rateLimitCheck("token", func(c Config) RateLimit { return c.RateLimits.Token }),
		rateLimitCheck("api", func(c Config) RateLimit { return c.RateLimits.API }),
		rateLimitCheck("default", func(c Config) RateLimit { return c.RateLimits.Default }),
		{"rate_limits.max_addresses", func(c Config) string {
			if n := c.RateLimits.MaxAddresses; n < 16 || n > 10_000_000 {
				return fmt.Sprintf("must be between 16 and 10000000, got %d", n)
			}
			return ""
		}},
		{"mfa.required_roles", func(c Config) string {
			for _, r := range c.MFA.RequiredRoles {
				if strings.TrimSpace(r) == "" {
					return "must not contain an empty role name"
				}
			}
			return ""
		}},
		{"janitor.interval", positive(func(c Config) time.Duration { return c.Janitor.Interval })},
		{"janitor.batch_size", func(c Config) string {
			if c.Janitor.BatchSize < 1 || c.Janitor.BatchSize > 100000 {
				return fmt.Sprintf("must be between 1 and 100000, got %d", c.Janitor.BatchSize)
			}
			return ""
		}},
		{"metrics.addr", func(c Config) string {
			if c.Metrics.Addr == "" {
				return ""
			}
			if msg := checkAddr(c.Metrics.Addr); msg != "" {
				return msg
			}
			if c.Metrics.Addr == c.Addr {
				return fmt.Sprintf("must differ from addr (%s); leave it empty to serve /metrics there", c.Addr)
			}
			return ""
		}},
		{"recovery.ticket_lifetime", positive(func(c Config) time.Duration { return c.Recovery.TicketLifetime })},
		{"email_verification.lifetime", positive(func(c Config) time.Duration { return c.EmailVerification.Lifetime })},
		{"mail_queue.max_attempts", func(c Config) string {
			if c.MailQueue.MaxAttempts < 1 || c.MailQueue.MaxAttempts > 100 {
				return fmt.Sprintf("must be between 1 and 100, got %d", c.MailQueue.MaxAttempts)
			}
			return ""
		}},
		{"mail_queue.max_age", positive(func(c Config) time.Duration { return c.MailQueue.MaxAge })},
		{"mail_queue.max_rows", func(c Config) string {
			if c.MailQueue.MaxRows < 1 {
				return fmt.Sprintf("must be at least 1, got %d", c.MailQueue.MaxRows)
			}
			return ""
		}},
		{"mail_queue.poll_interval", positive(func(c Config) time.Duration { return c.MailQueue.PollInterval })},
		{"registration.require_verified_email", func(c Config) string {
			if c.Registration.RequireVerifiedEmail && c.SMTP.Host == "" {
				return "needs smtp.host: without email nobody can verify an address"
			}
			return ""
		}},
		{"smtp.host", func(c Config) string { return checkSMTPHost(c.SMTP.Host) }},
		{"smtp.port", func(c Config) string {
			if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
				return fmt.Sprintf("must be between 1 and 65535, got %d", c.SMTP.Port)
			}
			return ""
		}},
		{"smtp.from", func(c Config) string { return checkSMTPFrom(c.SMTP) }},
		{"smtp.username", func(c Config) string {
			if strings.ContainsAny(c.SMTP.Username, "\r\n\x00") {
				return "must not contain line breaks or NUL"
			}
			return ""
		}},
		{"smtp.password", func(c Config) string {
			// Never the value: errors end up in logs.
			if c.SMTP.Username != "" && c.SMTP.Password == "" {
				return "is required when smtp.username is set"
			}
			if strings.ContainsAny(c.SMTP.Password, "\r\n\x00") {
				return "must not contain line breaks or NUL"
			}
			return ""
		}},
	}, append(append(append(append(deviceCodeChecks(),
		// Events and webhooks.
		webhookChecks()...),
		// Usage analytics.
		usageChecks()...),
		// Group commit of client_credentials tokens.
		tokenChecks()...),
		// The garbage collector.
		runtimeChecks()...)...)
}

// checkSMTPHost accepts a host name or IP address without a port (the port
// is smtp.port), or "" for no email.
func checkSMTPHost(host string) string {
	if host == "" || net.ParseIP(host) != nil {
		return ""
	}
	for _, r := range host {
		ok := r == '-' || r == '.' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return fmt.Sprintf("must be a host name or IP address without a port, got %q", host)
		}
	}
	return ""
}

// checkSMTPFrom: a sender is needed once email is on, and it goes into a
// header, so it must be one well-formed address and nothing else.
func checkSMTPFrom(s SMTP) string {
	if s.From == "" {
		if s.Host != "" {
			return "is required when smtp.host is set"
		}
		return ""
	}
	if strings.ContainsAny(s.From, "\r\n") {
		return "must not contain line breaks"
	}
	if _, err := mail.ParseAddress(s.From); err != nil {
		return fmt.Sprintf("must be an email address such as gatehouse <no-reply@example.com>, got %q", s.From)
	}
	return ""
}

// Validate reports every problem of the configuration as one
// *ValidationError, or nil if there is none.
func (c Config) Validate() error {
	return c.ValidateFields()
}

// ValidateFields is Validate restricted to the named fields: a name selects
// the field of that YAML path and, if it is a section such as "password",
// every field under it. With no names it checks everything. Commands that
// use only part of the configuration (the CLI's database commands need no
// secret) check only that part.
func (c Config) ValidateFields(names ...string) error {
	var problems []Problem
	for _, ch := range append(checks(), backChannelChecks()...) {
		if !selected(ch.field, names) {
			continue
		}
		if msg := ch.rule(c); msg != "" {
			problems = append(problems, Problem{Field: ch.field, Message: msg})
		}
	}
	if len(problems) > 0 {
		return &ValidationError{Problems: problems}
	}
	return nil
}

func selected(field string, names []string) bool {
	if len(names) == 0 {
		return true
	}
	for _, n := range names {
		if field == n || strings.HasPrefix(field, n+".") {
			return true
		}
	}
	return false
}

func oneOf(v string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return ""
		}
	}
	return fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, ", "), v)
}

func checkIssuer(c Config) string {
	u, err := url.Parse(c.Issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Sprintf("must be an absolute http(s) URL, got %q", c.Issuer)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("must use https (or http), got scheme %q", u.Scheme)
	case u.User != nil:
		return "must not contain user information"
	case u.RawQuery != "" || u.ForceQuery:
		// OpenID Connect Discovery 1.0 section 4.1: the issuer has no query
		// or fragment, since clients append the well-known path to it.
		return "must not contain a query"
	case u.Fragment != "" || strings.Contains(c.Issuer, "#"):
		return "must not contain a fragment"
	case u.Scheme == "http" && !c.Dev && !domain.IsLoopbackHost(u.Hostname()):
		return "must use https unless the host is a loopback address (" + domain.LoopbackHosts + ") or dev is true"
	}
	return ""
}

func checkAddr(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("must be host:port (e.g. :8080 or 127.0.0.1:8080), got %q", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("must have a port number between 0 and 65535, got %q", port)
	}
	return ""
}
