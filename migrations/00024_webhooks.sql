-- Events and webhooks: subscriptions to audit events, and the outbox of
-- their deliveries (Standard Webhooks).
--
-- A delivery row is inserted in the transaction that appends the audit
-- entry it carries, so that an event exists if and only if its change is
-- committed; the payload is kept as the exact bytes that are signed at each
-- attempt (text, not jsonb, which would reorder keys). Finished rows stay
-- as the delivery log (state delivered or failed) until the worker prunes
-- them after the retention. A claim moves next_attempt_at forward by a
-- lease, so a worker that dies mid-delivery leaves the row to be tried
-- again. The webhooks:write permission is the built-in admin role's.

-- +goose Up
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id          uuid PRIMARY KEY,
    url         text NOT NULL,
    event_types text[] NOT NULL,
    description text NOT NULL DEFAULT '',
    enabled     boolean NOT NULL DEFAULT true,
    -- AES-GCM sealed by the domain, with the id as additional data.
    secret_enc  bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id uuid NOT NULL
        CONSTRAINT webhook_deliveries_subscription_id_fkey REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    payload         text NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
        CONSTRAINT webhook_deliveries_state_check CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_status     integer NOT NULL DEFAULT 0,
    last_error      text NOT NULL DEFAULT '',
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz
);
-- The worker's claims and the bound's count walk the pending rows only.
CREATE INDEX IF NOT EXISTS webhook_deliveries_pending_idx ON webhook_deliveries (next_attempt_at, id)
    WHERE state = 'pending';
-- The delivery log of a subscription, newest first; serves the cascade.
CREATE INDEX IF NOT EXISTS webhook_deliveries_subscription_id_idx ON webhook_deliveries (subscription_id, id);
-- Pruning of finished rows.
CREATE INDEX IF NOT EXISTS webhook_deliveries_finished_at_idx ON webhook_deliveries (finished_at)
    WHERE state <> 'pending';

UPDATE roles SET permissions = array_append(permissions, 'webhooks:write')
    WHERE name = 'admin' AND built_in AND NOT ('webhooks:write' = ANY(permissions));
