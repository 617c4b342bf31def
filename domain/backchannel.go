package domain

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// This file holds the domain's part of OpenID Connect Back-Channel Logout
// 1.0: the rule for a client's logout URI, the public id (sid) of a login
// session, and the enqueueing of logout notifications when a session ends.
// The notifications are delivered by backchannel.Sender.

// BackChannelOptions configure the enqueueing of back-channel logouts.
type BackChannelOptions struct {
	// MaxRows bounds the queue (back_channel_logout.max_rows; default
	// DefaultLogoutQueueRows). A session that ends while the queue is full
	// still ends: its notifications are dropped and logged, since a logout
	// must never fail because receivers are down.
	MaxRows int
}

// DefaultLogoutQueueRows is BackChannelOptions.MaxRows' default.
const DefaultLogoutQueueRows = 10000

// maxLogoutURILength bounds what a client can make us store and POST to.
const maxLogoutURILength = 2000

// SessionSID is the sid claim of a login session (OIDC Front-/Back-Channel
// Logout): a stable, opaque derivation of the session's store id. The store
// id is itself a digest of the cookie's secret, but it is also the handle
// an administrator revokes the session by; a relying party that sees sid
// in an ID token learns neither, so it cannot act on the session, only
// recognise it in a logout token.
func SessionSID(loginSessionID string) string {
	if loginSessionID == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("gatehouse sid\x00" + loginSessionID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validateClientBackchannel applies Back-Channel Logout 1.0 section 2.2: an
// absolute URI without a fragment; https, or http on a loopback host (the
// rule of redirect URIs, without the private-use schemes: we POST to it).
func validateClientBackchannel(c store.Client) *ValidationError {
	const field = "backchannel_logout_uri"
	raw := c.BackchannelLogoutURI
	if raw == "" {
		return nil
	}
	if len(raw) > maxLogoutURILength {
		return invalid(field, "must be at most %d characters", maxLogoutURILength)
	}
	if msg := CheckLogoutURI(raw); msg != "" {
		return invalid(field, "%q %s", raw, msg)
	}
	return nil
}

// CheckLogoutURI returns why raw is refused as a back-channel logout URI,
// or "": an absolute https URI, or http on a loopback host, with a host,
// without user information or fragment.
func CheckLogoutURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return "must be an absolute URI"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not contain a fragment"
	}
	if u.User != nil {
		return "must not contain user information"
	}
	switch u.Scheme {
	case "https", "http":
	default:
		return "must use https (or http on a loopback host)"
	}
	if u.Hostname() == "" {
		return "must name a host"
	}
	if u.Scheme == "http" && !IsLoopbackHost(u.Hostname()) {
		return "must use https unless the host is a loopback address (" + LoopbackHosts + ")"
	}
	return ""
}

// enqueueLogouts queues a logout notification for every client that was
// granted tokens in the login session and registered a back-channel logout
// URI, in the caller's transaction: the notifications exist if and only if
// the session's end is committed. Call it before the session's row goes
// (its grants then still name it).
func (s *Service) enqueueLogouts(ctx context.Context, loginSessionID string) error {
	targets, err := s.store.ListLogoutTargets(ctx, loginSessionID)
	if err != nil {
		return fmt.Errorf("list logout targets: %w", err)
	}
	if len(targets) == 0 {
		return nil
	}
	now := s.now()
	sid := SessionSID(loginSessionID)
	for _, t := range targets {
		l := store.Logout{ID: uuid.NewString(), ClientID: t.ClientID, Subject: t.Subject, SessionID: sid,
			NextAttemptAt: now, CreatedAt: now}
		// Each in a savepoint: a client deleted meanwhile (the foreign key)
		// or a full queue costs that notification, not the logout.
		err := store.InTx(ctx, s.store, func(ctx context.Context) error {
			return s.store.EnqueueLogout(ctx, l, s.opts.BackChannel.MaxRows)
		})
		switch {
		case err == nil:
		case errors.Is(err, store.ErrLogoutQueueFull), errors.Is(err, store.ErrNotFound):
			s.opts.Logger.WarnContext(ctx, "back-channel logout not queued", "client_id", t.ClientID, "error", err.Error())
		default:
			return fmt.Errorf("enqueue logout: %w", err)
		}
	}
	return nil
}
