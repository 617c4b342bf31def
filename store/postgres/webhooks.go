package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Events and webhooks

const webhookColumns = `id, url, event_types, description, enabled, secret_enc, created_at, updated_at`

func scanWebhook(row pgx.Row) (store.WebhookSubscription, error) {
	var w store.WebhookSubscription
	if err := row.Scan(&w.ID, &w.URL, &w.EventTypes, &w.Description, &w.Enabled, &w.SecretEnc,
		&w.CreatedAt, &w.UpdatedAt); err != nil {
		return store.WebhookSubscription{}, err
	}
	w.EventTypes = list(w.EventTypes)
	if len(w.SecretEnc) == 0 {
		w.SecretEnc = nil
	}
	w.CreatedAt, w.UpdatedAt = utc(w.CreatedAt), utc(w.UpdatedAt)
	return w, nil
}

// CreateWebhook returns ErrConflict if the id is taken.
func (s *Store) CreateWebhook(ctx context.Context, w store.WebhookSubscription) error {
	id, ok := parseUUID(w.ID)
	if !ok {
		return fmt.Errorf("postgres: create webhook: id %q is not a UUID", w.ID)
	}
	_, err := s.db(ctx).Exec(ctx, `INSERT INTO webhook_subscriptions (`+webhookColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, w.URL, list(w.EventTypes), w.Description, w.Enabled, secretArg(w.SecretEnc), w.CreatedAt, w.UpdatedAt)
	if err != nil {
		return fmt.Errorf("postgres: create webhook: %w", classify(err, nil))
	}
	return nil
}

// GetWebhook returns ErrNotFound if absent.
func (s *Store) GetWebhook(ctx context.Context, id string) (store.WebhookSubscription, error) {
	uid, ok := parseUUID(id)
	if !ok {
		return store.WebhookSubscription{}, fmt.Errorf("postgres: get webhook: %w", store.ErrNotFound)
	}
	w, err := scanWebhook(s.db(ctx).QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhook_subscriptions WHERE id = $1`, uid))
	if err != nil {
		return store.WebhookSubscription{}, fmt.Errorf("postgres: get webhook: %w", classify(err, nil))
	}
	return w, nil
}

// ListWebhooks returns every subscription by id.
func (s *Store) ListWebhooks(ctx context.Context) ([]store.WebhookSubscription, error) {
	rows, err := s.db(ctx).Query(ctx, `SELECT `+webhookColumns+` FROM webhook_subscriptions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.WebhookSubscription, error) { return scanWebhook(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhooks: %w", err)
	}
	if out == nil {
		out = []store.WebhookSubscription{}
	}
	return out, nil
}

// UpdateWebhook returns ErrNotFound if absent.
func (s *Store) UpdateWebhook(ctx context.Context, w store.WebhookSubscription) error {
	id, ok := parseUUID(w.ID)
	if !ok {
		return fmt.Errorf("postgres: update webhook: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "update webhook", `UPDATE webhook_subscriptions SET url = $2, event_types = $3,
		description = $4, enabled = $5, secret_enc = $6, created_at = $7, updated_at = $8 WHERE id = $1`,
		id, w.URL, list(w.EventTypes), w.Description, w.Enabled, secretArg(w.SecretEnc), w.CreatedAt, w.UpdatedAt)
}

// DeleteWebhook removes the deliveries too (ON DELETE CASCADE).
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	uid, ok := parseUUID(id)
	if !ok {
		return fmt.Errorf("postgres: delete webhook: %w", store.ErrNotFound)
	}
	return s.exec1(ctx, "delete webhook", `DELETE FROM webhook_subscriptions WHERE id = $1`, uid)
}

// EnqueueWebhookEvent is one statement, run by every audited write: the
// subscriptions are a small table read in the writer's transaction (no
// cache to go stale across instances), and the pending rows are counted,
// up to the bound, only when a subscription matches. Like EnqueueLogout's,
// the bound may be passed by as many rows as there are concurrent writers.
func (s *Store) EnqueueWebhookEvent(ctx context.Context, ev store.WebhookEvent, maxPending int) (queued, dropped int, err error) {
	var matched int
	err = s.db(ctx).QueryRow(ctx, `WITH matched AS (
			SELECT id FROM webhook_subscriptions WHERE enabled AND event_types && $1::text[]),
		ins AS (
			INSERT INTO webhook_deliveries (subscription_id, event_id, event_type, payload, next_attempt_at, created_at)
			SELECT id, $2, $3, $4, $5, $5 FROM matched ORDER BY id
			LIMIT CASE WHEN $6::integer <= 0 OR NOT EXISTS (SELECT 1 FROM matched) THEN NULL
				ELSE greatest($6::integer - (SELECT count(*) FROM (SELECT 1 FROM webhook_deliveries
					WHERE state = 'pending' LIMIT $6::integer) AS held), 0) END
			RETURNING 1)
		SELECT (SELECT count(*) FROM matched), (SELECT count(*) FROM ins)`,
		list(ev.Patterns), ev.ID, ev.Type, string(ev.Payload), ev.At, maxPending).Scan(&matched, &queued)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: enqueue webhook event: %w", err)
	}
	return queued, matched - queued, nil
}

const deliveryColumns = `id, subscription_id, event_id, event_type, payload, state, attempts, last_status,
	last_error, next_attempt_at, created_at, finished_at`

func scanDelivery(row pgx.Row) (store.WebhookDelivery, error) {
	var d store.WebhookDelivery
	var payload, state string
	if err := row.Scan(&d.ID, &d.SubscriptionID, &d.EventID, &d.EventType, &payload, &state, &d.Attempts,
		&d.LastStatus, &d.LastError, &d.NextAttemptAt, &d.CreatedAt, &d.FinishedAt); err != nil {
		return store.WebhookDelivery{}, err
	}
	d.Payload, d.State = []byte(payload), store.WebhookDeliveryState(state)
	d.NextAttemptAt, d.CreatedAt, d.FinishedAt = utc(d.NextAttemptAt), utc(d.CreatedAt), utcPtr(d.FinishedAt)
	return d, nil
}

func collectDeliveries(rows pgx.Rows) ([]store.WebhookDelivery, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.WebhookDelivery, error) { return scanDelivery(r) })
	if out == nil {
		out = []store.WebhookDelivery{}
	}
	return out, err
}

// ClaimWebhookDeliveries locks the due rows it takes with SKIP LOCKED and
// moves them forward by the lease in the same statement, as ClaimLogouts
// does: no transaction is held open while a receiver is talked to.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.WebhookDelivery, error) {
	if limit <= 0 {
		return []store.WebhookDelivery{}, nil
	}
	rows, err := s.db(ctx).Query(ctx, `WITH due AS (
			SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1
			ORDER BY next_attempt_at, id LIMIT $3
			FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = $2
			FROM due WHERE d.id = due.id
			RETURNING d.*)
		SELECT `+deliveryColumns+` FROM claimed ORDER BY id`,
		now, now.Add(lease), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim webhook deliveries: %w", err)
	}
	out, err := collectDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim webhook deliveries: %w", err)
	}
	return out, nil
}

// RetryWebhookDelivery returns ErrNotFound unless the delivery is pending.
func (s *Store) RetryWebhookDelivery(ctx context.Context, id int64, next time.Time, status int, lastError string) error {
	return s.exec1(ctx, "retry webhook delivery", `UPDATE webhook_deliveries
		SET next_attempt_at = $2, last_status = $3, last_error = $4 WHERE id = $1 AND state = 'pending'`,
		id, next, status, lastError)
}

// FinishWebhookDelivery returns ErrNotFound unless the delivery is pending.
func (s *Store) FinishWebhookDelivery(ctx context.Context, id int64, state store.WebhookDeliveryState, at time.Time, status int, lastError string) error {
	return s.exec1(ctx, "finish webhook delivery", `UPDATE webhook_deliveries
		SET state = $2, finished_at = $3, last_status = $4, last_error = $5 WHERE id = $1 AND state = 'pending'`,
		id, string(state), at, status, lastError)
}

// ListWebhookDeliveries walks webhook_deliveries_subscription_id_idx.
func (s *Store) ListWebhookDeliveries(ctx context.Context, subscriptionID string, before int64, limit int) ([]store.WebhookDelivery, error) {
	uid, ok := parseUUID(subscriptionID)
	if !ok {
		return []store.WebhookDelivery{}, nil
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE subscription_id = $1 AND ($2 <= 0 OR id < $2) ORDER BY id DESC LIMIT $3`, uid, before, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhook deliveries: %w", err)
	}
	out, err := collectDeliveries(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list webhook deliveries: %w", err)
	}
	return out, nil
}

// CountPendingWebhookDeliveries counts through the partial index, which
// max_pending keeps small.
func (s *Store) CountPendingWebhookDeliveries(ctx context.Context) (int, error) {
	var n int
	if err := s.db(ctx).QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count pending webhook deliveries: %w", err)
	}
	return n, nil
}

// PruneWebhookDeliveries deletes the oldest finished rows first.
func (s *Store) PruneWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.db(ctx).Exec(ctx, `DELETE FROM webhook_deliveries WHERE id IN (
		SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < $1
		ORDER BY id LIMIT $2)`, before, max(limit, 0))
	if err != nil {
		return 0, fmt.Errorf("postgres: prune webhook deliveries: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
