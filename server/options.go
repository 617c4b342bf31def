package server

import (
	"log/slog"
	"net/url"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/notify"
)

// DomainOptions are the domain service's settings taken from cfg: the
// password policy, the sign-in lockout and, when SMTP is configured, mail
// (recovery, verification and access-request decisions, all queued in the
// outbox that the sender of server/mail.go delivers). New and the CLI's commands
// both build their service from it, so a policy set in the configuration
// holds however a change is made. Callers add what is their own (the clock,
// OnChange).
func DomainOptions(cfg config.Config, logger *slog.Logger) domain.Options {
	o := domain.Options{
		Passwords:        domain.Passwords{BcryptCost: cfg.Password.BcryptCost, MinLength: cfg.Password.MinLength},
		Logger:           logger,
		LockoutThreshold: cfg.Login.MaxFailures,
		LockoutDuration:  cfg.Login.Lockout,
		ConsentLifetime:  cfg.Lifetimes.Consent,

		SessionLimit:       cfg.Sessions.Limit,
		SessionIdleTimeout: cfg.Sessions.IdleTimeout,
		SessionLifetime:    cfg.Lifetimes.LoginSession,
		MFAKey:             keys.Derive([]byte(cfg.Secret), "mfa-secret-encryption", 32),
		MFAIssuer:          mfaIssuer(cfg.Issuer),
		MFARequiredRoles:   cfg.MFA.RequiredRoles,
		Passkeys:           cfg.PasskeyConfig(),
		Recovery: domain.RecoveryOptions{
			Issuer:               cfg.Issuer,
			MailEnabled:          cfg.SMTP.Host != "",
			TicketLifetime:       cfg.Recovery.TicketLifetime,
			VerificationLifetime: cfg.EmailVerification.Lifetime,
			OutboxMaxRows:        cfg.MailQueue.MaxRows,
			RequireVerifiedEmail: cfg.Registration.RequireVerifiedEmail,
		},

		BackChannel: domain.BackChannelOptions{MaxRows: cfg.BackChannelLogout.MaxRows},
		// Upstream identity providers' client secrets (idp).
		IdentityProviderKey: keys.Derive([]byte(cfg.Secret), "identity-provider-secret-encryption", 32),

		// Events and webhooks.
		Webhooks:   domain.WebhookOptions{MaxPending: cfg.Webhooks.MaxPending},
		WebhookKey: keys.Derive([]byte(cfg.Secret), "webhook-secret-encryption", 32),
	}
	// The configuration's 0 turns the account-wide lock off; the domain's
	// 0 is its default.
	o.AccountLockoutThreshold = cfg.Login.AccountMaxFailures
	if o.AccountLockoutThreshold == 0 {
		o.AccountLockoutThreshold = -1
	}
	return o
}

// mfaIssuer names this server in authenticator apps: the issuer's host,
// which is what the person recognises, or "gatehouse".
func mfaIssuer(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "gatehouse"
}

// smtpSender is the SMTP sender of cfg; nil when SMTP is off.
func smtpSender(cfg config.Config, logger *slog.Logger) *notify.SMTP {
	if cfg.SMTP.Host == "" {
		return nil
	}
	return notify.NewSMTP(notify.Options{
		Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
		From: cfg.SMTP.From, RequireTLS: cfg.SMTP.RequireTLS, Issuer: cfg.Issuer, Logger: logger,
	})
}
