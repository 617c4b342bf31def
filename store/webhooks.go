package store

import (
	"context"
	"strings"
	"time"
)

// This file holds what events and webhooks keep: the subscriptions to audit
// events, and the durable outbox of their deliveries, which is also the
// delivery log.

// WebhookSubscription is a receiver of events: every audit entry whose
// action matches one of EventTypes is POSTed to URL, signed with the
// subscription's secret (Standard Webhooks).
type WebhookSubscription struct {
	ID  string // UUID
	URL string
	// EventTypes are action names ("user.create") or patterns: "user.*"
	// (every action beginning "user.") and "*" (every action).
	EventTypes  []string
	Description string
	Enabled     bool
	// SecretEnc is the signing secret sealed by the domain; never shown
	// after creation.
	SecretEnc []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// WebhookDeliveryState is where a delivery stands.
type WebhookDeliveryState string

const (
	// WebhookPending: not yet accepted; claimed when NextAttemptAt is due.
	WebhookPending WebhookDeliveryState = "pending"
	// WebhookDelivered: the receiver answered 2xx.
	WebhookDelivered WebhookDeliveryState = "delivered"
	// WebhookFailed: given up (attempts or age exhausted).
	WebhookFailed WebhookDeliveryState = "failed"
)

// WebhookDelivery is one event owed to (or delivered to) one subscription.
type WebhookDelivery struct {
	ID             int64 // assigned by the store, increasing
	SubscriptionID string
	// EventID is the event's id, the same for every subscription and
	// every attempt (the webhook-id header): receivers de-duplicate by it.
	EventID   string
	EventType string
	// Payload is the JSON body, exactly as it is signed and sent.
	Payload []byte
	State   WebhookDeliveryState
	// Attempts counts the claims so far (each a delivery attempt).
	Attempts int
	// LastStatus is the HTTP status of the last attempt (0: none, or no
	// answer).
	LastStatus int
	// LastError is why the last attempt failed ("" before any, or once
	// delivered).
	LastError string
	// NextAttemptAt is when a pending delivery may next be claimed.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	// FinishedAt is when it was delivered or given up; nil while pending.
	FinishedAt *time.Time
}

// WebhookEvent is an event to enqueue: one delivery per enabled
// subscription one of whose event types is among Patterns.
type WebhookEvent struct {
	ID   string
	Type string
	// Patterns are the event types that match Type: WebhookPatterns(Type).
	Patterns []string
	Payload  []byte
	At       time.Time
}

// WebhookPatterns returns every event type that matches action: "*", each
// "prefix.*" of its dot-separated segments, and action itself; for
// "group.member.add": *, group.*, group.member.*, group.member.add.
func WebhookPatterns(action string) []string {
	out := []string{"*"}
	for i := range len(action) {
		if action[i] == '.' {
			out = append(out, action[:i]+".*")
		}
	}
	return append(out, action)
}

// WebhookMatches reports whether one of types matches action.
func WebhookMatches(types []string, action string) bool {
	for _, t := range types {
		if t == "*" || t == action || (strings.HasSuffix(t, ".*") && strings.HasPrefix(action, t[:len(t)-1])) {
			return true
		}
	}
	return false
}

// Webhooks keeps the subscriptions and the delivery outbox. Several
// workers (one per instance) may claim from it at once; each delivery is
// with at most one of them at a time.
type Webhooks interface {
	// CreateWebhook stores w; ErrConflict if the id exists.
	CreateWebhook(ctx context.Context, w WebhookSubscription) error
	// GetWebhook returns ErrNotFound if absent.
	GetWebhook(ctx context.Context, id string) (WebhookSubscription, error)
	// ListWebhooks returns every subscription ordered by id; empty if none.
	ListWebhooks(ctx context.Context) ([]WebhookSubscription, error)
	// UpdateWebhook replaces the subscription w.ID; ErrNotFound if absent.
	UpdateWebhook(ctx context.Context, w WebhookSubscription) error
	// DeleteWebhook removes the subscription with its deliveries;
	// ErrNotFound if absent.
	DeleteWebhook(ctx context.Context, id string) error

	// EnqueueWebhookEvent adds a pending delivery of ev, due at ev.At, for
	// every enabled subscription one of whose event types is in
	// ev.Patterns, in ascending subscription id order, as long as fewer
	// than maxPending deliveries are pending (maxPending <= 0: no bound).
	// It returns how many were queued and how many dropped for the bound.
	// Inside a transaction the rows commit or roll back with it.
	EnqueueWebhookEvent(ctx context.Context, ev WebhookEvent, maxPending int) (queued, dropped int, err error)
	// ClaimWebhookDeliveries returns up to limit pending deliveries due at
	// now, the longest due first, having added one to their Attempts and
	// moved their NextAttemptAt to now + lease (FOR UPDATE SKIP LOCKED:
	// concurrent claims get other rows), ordered by id.
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]WebhookDelivery, error)
	// RetryWebhookDelivery records a failed attempt of a pending delivery
	// and when to try next; ErrNotFound if it is gone or no longer pending.
	RetryWebhookDelivery(ctx context.Context, id int64, next time.Time, status int, lastError string) error
	// FinishWebhookDelivery makes a pending delivery delivered or failed at
	// at, with the last attempt's status and error; ErrNotFound if it is
	// gone or no longer pending.
	FinishWebhookDelivery(ctx context.Context, id int64, state WebhookDeliveryState, at time.Time, status int, lastError string) error
	// ListWebhookDeliveries returns the subscription's deliveries newest
	// first (by id), those with an id below before when before > 0, at
	// most limit (<= 0: 100); empty if none.
	ListWebhookDeliveries(ctx context.Context, subscriptionID string, before int64, limit int) ([]WebhookDelivery, error)
	// CountPendingWebhookDeliveries returns how many deliveries are pending.
	CountPendingWebhookDeliveries(ctx context.Context) (int, error)
	// PruneWebhookDeliveries deletes up to limit finished deliveries that
	// finished before before, and returns how many it deleted.
	PruneWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
}
