package store

import (
	"context"
	"errors"
	"time"
)

// This file holds what OpenID Connect Back-Channel Logout 1.0 keeps: the
// durable queue of logout notifications owed to clients whose users'
// sessions ended.

// ErrLogoutQueueFull: EnqueueLogout refused a notification because the
// queue holds its maximum number of rows already (receivers have been
// unreachable for a while). Nothing was written.
var ErrLogoutQueueFull = errors.New("store: back-channel logout queue full")

// LogoutTarget is a client that received tokens in a login session and
// asked to be told when it ends (it has a back-channel logout URI), with
// the subject of those tokens.
type LogoutTarget struct {
	ClientID string
	Subject  string
}

// Logout is one back-channel logout notification waiting to be delivered.
// The logout token itself is signed at each attempt (its lifetime is
// short); the row keeps what the token says.
type Logout struct {
	ID       string // UUID
	ClientID string
	Subject  string
	// SessionID is the sid claim: the ended login session's public id
	// (never the session's store id).
	SessionID string
	// Attempts counts the claims so far (each a delivery attempt).
	Attempts int
	// NextAttemptAt is when the notification may next be claimed.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	// LastError is why the last attempt failed ("" before any).
	LastError string
}

// BackChannelLogouts is the durable queue of back-channel logout
// notifications. Several senders (one per instance) may claim from it at
// once; each notification is with at most one of them at a time.
type BackChannelLogouts interface {
	// ListLogoutTargets returns the distinct (client, subject) pairs of the
	// grants made in the login session whose client has a back-channel
	// logout URI, ordered by client id then subject; empty if none. Inactive
	// grants count: the client received tokens, whether or not they have
	// been revoked since.
	ListLogoutTargets(ctx context.Context, loginSessionID string) ([]LogoutTarget, error)
	// EnqueueLogout adds l unless the queue holds maxRows notifications or
	// more already: then it returns ErrLogoutQueueFull and writes nothing.
	// maxRows <= 0 means no bound. ErrConflict if the id exists, ErrNotFound
	// if the client does not.
	EnqueueLogout(ctx context.Context, l Logout, maxRows int) error
	// ClaimLogouts returns up to limit notifications due at now, the
	// longest due first, ordered by id, having added one to their Attempts
	// and moved their NextAttemptAt to now + lease, as MailOutbox.ClaimMail
	// does (FOR UPDATE SKIP LOCKED: concurrent claims get other rows).
	ClaimLogouts(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Logout, error)
	// RetryLogout sets the notification's NextAttemptAt and LastError after
	// a failed attempt; ErrNotFound if it is gone.
	RetryLogout(ctx context.Context, id string, next time.Time, lastError string) error
	// DeleteLogout removes a notification (delivered, or given up);
	// ErrNotFound if absent.
	DeleteLogout(ctx context.Context, id string) error
	// CountLogouts returns how many notifications the queue holds.
	CountLogouts(ctx context.Context) (int, error)
}
