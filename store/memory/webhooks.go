package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// Events and webhooks: the subscriptions and the delivery outbox.

func copyWebhook(w store.WebhookSubscription) store.WebhookSubscription {
	w.EventTypes = list(w.EventTypes)
	w.SecretEnc = blob(w.SecretEnc)
	w.CreatedAt, w.UpdatedAt = stamp(w.CreatedAt), stamp(w.UpdatedAt)
	return w
}

func copyDelivery(d store.WebhookDelivery) store.WebhookDelivery {
	// A text column: empty reads back as empty, not NULL.
	d.Payload = bytes.Clone(d.Payload)
	if d.Payload == nil {
		d.Payload = []byte{}
	}
	d.NextAttemptAt, d.CreatedAt = stamp(d.NextAttemptAt), stamp(d.CreatedAt)
	d.FinishedAt = stampPtr(d.FinishedAt)
	return d
}

func (s *Store) CreateWebhook(ctx context.Context, w store.WebhookSubscription) error {
	return s.do(ctx, "create webhook", func(o op) error {
		id, ok := canonicalUUID(w.ID)
		if !ok {
			return fmt.Errorf("webhook id %q is not a UUID", w.ID)
		}
		if _, taken := s.webhooks[id]; taken {
			return store.ErrConflict
		}
		w.ID = id
		put(o, s.webhooks, id, copyWebhook(w))
		return nil
	})
}

func (s *Store) GetWebhook(ctx context.Context, id string) (store.WebhookSubscription, error) {
	var out store.WebhookSubscription
	err := s.do(ctx, "get webhook", func(op) error {
		uid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		w, ok := s.webhooks[uid]
		if !ok {
			return store.ErrNotFound
		}
		out = copyWebhook(w)
		return nil
	})
	return out, err
}

func (s *Store) ListWebhooks(ctx context.Context) ([]store.WebhookSubscription, error) {
	out := []store.WebhookSubscription{}
	err := s.do(ctx, "list webhooks", func(op) error {
		for _, w := range s.webhooks {
			out = append(out, copyWebhook(w))
		}
		// uuid order is byte order of the canonical spelling.
		slices.SortFunc(out, func(a, b store.WebhookSubscription) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	return out, err
}

func (s *Store) UpdateWebhook(ctx context.Context, w store.WebhookSubscription) error {
	return s.do(ctx, "update webhook", func(o op) error {
		id, ok := canonicalUUID(w.ID)
		if !ok {
			return store.ErrNotFound
		}
		if _, ok := s.webhooks[id]; !ok {
			return store.ErrNotFound
		}
		w.ID = id
		put(o, s.webhooks, id, copyWebhook(w))
		return nil
	})
}

func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	return s.do(ctx, "delete webhook", func(o op) error {
		uid, ok := canonicalUUID(id)
		if !ok {
			return store.ErrNotFound
		}
		if _, ok := s.webhooks[uid]; !ok {
			return store.ErrNotFound
		}
		del(o, s.webhooks, uid)
		for did, d := range s.deliveries {
			if d.SubscriptionID == uid {
				del(o, s.deliveries, did)
			}
		}
		return nil
	})
}

func (s *Store) pendingDeliveries() int {
	n := 0
	for _, d := range s.deliveries {
		if d.State == store.WebhookPending {
			n++
		}
	}
	return n
}

func (s *Store) EnqueueWebhookEvent(ctx context.Context, ev store.WebhookEvent, maxPending int) (queued, dropped int, err error) {
	err = s.do(ctx, "enqueue webhook event", func(o op) error {
		var matched []string
		for id, w := range s.webhooks {
			if w.Enabled && slices.ContainsFunc(w.EventTypes, func(t string) bool { return slices.Contains(ev.Patterns, t) }) {
				matched = append(matched, id)
			}
		}
		if len(matched) == 0 {
			return nil
		}
		slices.Sort(matched)
		room := len(matched)
		if maxPending > 0 {
			room = max(min(room, maxPending-s.pendingDeliveries()), 0)
		}
		for _, id := range matched[:room] {
			// An identity column's sequence is not rolled back either.
			s.webhookSeq++
			put(o, s.deliveries, s.webhookSeq, copyDelivery(store.WebhookDelivery{
				ID: s.webhookSeq, SubscriptionID: id, EventID: ev.ID, EventType: ev.Type, Payload: ev.Payload,
				State: store.WebhookPending, NextAttemptAt: ev.At, CreatedAt: ev.At,
			}))
		}
		queued, dropped = room, len(matched)-room
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return queued, dropped, nil
}

func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.WebhookDelivery, error) {
	var out []store.WebhookDelivery
	err := s.do(ctx, "claim webhook deliveries", func(o op) error {
		var due []store.WebhookDelivery
		for _, d := range s.deliveries {
			if d.State == store.WebhookPending && !d.NextAttemptAt.After(now) {
				due = append(due, d)
			}
		}
		slices.SortFunc(due, func(a, b store.WebhookDelivery) int {
			if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		due = due[:min(max(limit, 0), len(due))]
		out = make([]store.WebhookDelivery, 0, len(due))
		for _, d := range due {
			d.Attempts++
			d.NextAttemptAt = stamp(now.Add(lease))
			put(o, s.deliveries, d.ID, d)
			out = append(out, copyDelivery(d))
		}
		slices.SortFunc(out, func(a, b store.WebhookDelivery) int { return cmp.Compare(a.ID, b.ID) })
		return nil
	})
	return out, err
}

func (s *Store) RetryWebhookDelivery(ctx context.Context, id int64, next time.Time, status int, lastError string) error {
	return s.do(ctx, "retry webhook delivery", func(o op) error {
		d, ok := s.deliveries[id]
		if !ok || d.State != store.WebhookPending {
			return store.ErrNotFound
		}
		d.NextAttemptAt, d.LastStatus, d.LastError = stamp(next), status, lastError
		put(o, s.deliveries, id, d)
		return nil
	})
}

func (s *Store) FinishWebhookDelivery(ctx context.Context, id int64, state store.WebhookDeliveryState, at time.Time, status int, lastError string) error {
	return s.do(ctx, "finish webhook delivery", func(o op) error {
		if state != store.WebhookDelivered && state != store.WebhookFailed {
			return fmt.Errorf("state %q violates webhook_deliveries_state_check", state)
		}
		d, ok := s.deliveries[id]
		if !ok || d.State != store.WebhookPending {
			return store.ErrNotFound
		}
		at = stamp(at)
		d.State, d.FinishedAt, d.LastStatus, d.LastError = state, &at, status, lastError
		put(o, s.deliveries, id, d)
		return nil
	})
}

func (s *Store) ListWebhookDeliveries(ctx context.Context, subscriptionID string, before int64, limit int) ([]store.WebhookDelivery, error) {
	out := []store.WebhookDelivery{}
	err := s.do(ctx, "list webhook deliveries", func(op) error {
		uid, ok := canonicalUUID(subscriptionID)
		if !ok {
			return nil
		}
		for _, d := range s.deliveries {
			if d.SubscriptionID == uid && (before <= 0 || d.ID < before) {
				out = append(out, copyDelivery(d))
			}
		}
		slices.SortFunc(out, func(a, b store.WebhookDelivery) int { return cmp.Compare(b.ID, a.ID) })
		if limit <= 0 {
			limit = 100
		}
		out = out[:min(limit, len(out))]
		return nil
	})
	return out, err
}

func (s *Store) CountPendingWebhookDeliveries(ctx context.Context) (int, error) {
	var n int
	err := s.do(ctx, "count pending webhook deliveries", func(op) error {
		n = s.pendingDeliveries()
		return nil
	})
	return n, err
}

func (s *Store) PruneWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "prune webhook deliveries", func(o op) error {
		var old []int64
		for id, d := range s.deliveries {
			if d.State != store.WebhookPending && d.FinishedAt != nil && d.FinishedAt.Before(before) {
				old = append(old, id)
			}
		}
		slices.Sort(old)
		old = old[:min(max(limit, 0), len(old))]
		for _, id := range old {
			del(o, s.deliveries, id)
		}
		n = len(old)
		return nil
	})
	return n, err
}
