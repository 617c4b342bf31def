package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ---------------------------------------------------------------------------
// Device authorization grant (RFC 8628)

// DeviceCodeStatus is where a device authorization stands.
type DeviceCodeStatus string

const (
	// DevicePending: nobody has answered yet (the client polls and hears
	// authorization_pending).
	DevicePending DeviceCodeStatus = "pending"
	// DeviceApproved: the user allowed it; the tokens may be issued once.
	DeviceApproved DeviceCodeStatus = "approved"
	// DeviceDenied: the user refused it (access_denied).
	DeviceDenied DeviceCodeStatus = "denied"
)

// DeviceSlowDownStep is how much a poll that comes sooner than the
// interval adds to it, for that poll and every later one (RFC 8628 §3.5).
const DeviceSlowDownStep = 5 * time.Second

// ErrDeviceCodesFull: CreateDeviceCode refused a code because the client
// already has as many live ones as the bound allows.
var ErrDeviceCodesFull = errors.New("store: too many live device codes for the client")

// DeviceCode is one device authorization, stored by digests of its two
// codes: neither the device code nor the user code is ever stored.
type DeviceCode struct {
	// Signature is the digest of the device code (the client's secret
	// handle for polling).
	Signature string
	// UserCode is the digest of the normalized user code (what the person
	// types); unique.
	UserCode string
	ClientID string
	// Scopes are the scopes the client asked for (already validated).
	Scopes []string
	Status DeviceCodeStatus
	// Interval is the least time between two polls, in whole seconds; a
	// poll that comes sooner grows it by DeviceSlowDownStep.
	Interval time.Duration
	// LastPolledAt is the previous poll; nil if the client never polled.
	LastPolledAt *time.Time
	RequestedAt  time.Time
	ExpiresAt    time.Time
	// UserID is the user who answered; empty while pending.
	UserID string
	// Session is the serialized token session of an approval (opaque to
	// the store): who, through which sign-in, with which claims.
	Session json.RawMessage
	// RedeemedAt is when the tokens were issued; nil until then.
	RedeemedAt *time.Time
}

// DeviceCodes stores device authorizations.
type DeviceCodes interface {
	// CreateDeviceCode stores d. ErrConflict if its signature or user code
	// exists, ErrNotFound if the client does not, and ErrDeviceCodesFull
	// if the client has maxLive codes or more that have not expired at
	// now (concurrent creations may each see one less than the others
	// add: the bound is exceeded by at most their number).
	CreateDeviceCode(ctx context.Context, d DeviceCode, now time.Time, maxLive int) error
	// GetDeviceCodeByUserCode returns the pending code with that user code
	// digest that has not expired at now; ErrNotFound otherwise.
	GetDeviceCodeByUserCode(ctx context.Context, userCode string, now time.Time) (DeviceCode, error)
	// DecideDeviceCode answers the pending code with that user code digest
	// that has not expired at now: status is DeviceApproved or
	// DeviceDenied, userID who answered, session the approval's (nil for a
	// denial). ErrNotFound if no such code is pending: one answer only.
	DecideDeviceCode(ctx context.Context, userCode string, status DeviceCodeStatus, userID string, session json.RawMessage, now time.Time) error
	// PollDeviceCode records a poll at now of the code with that signature
	// and returns the code as it was before the poll, with slow true when
	// the poll came sooner than Interval less leeway after the previous
	// one; the stored Interval has then grown by DeviceSlowDownStep. The
	// leeway forgives a well-behaved client the jitter of its requests'
	// latency. ErrNotFound if
	// there is no such code. The read and the write are one statement, so
	// polls from several instances are all counted; inside a transaction
	// the row stays locked until it ends.
	PollDeviceCode(ctx context.Context, signature string, now time.Time, leeway time.Duration) (DeviceCode, bool, error)
	// RedeemDeviceCode sets RedeemedAt to now on an approved code that was
	// never redeemed; ErrNotFound otherwise. Of concurrent redemptions
	// exactly one succeeds: the one-use rule is the database's.
	RedeemDeviceCode(ctx context.Context, signature string, now time.Time) error
	// DeleteExpiredDeviceCodes removes up to limit codes whose expiry is
	// not after now, returning how many went.
	DeleteExpiredDeviceCodes(ctx context.Context, now time.Time, limit int) (int, error)
}
