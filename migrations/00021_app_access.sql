-- App access rules and usage analytics.
--
-- clients.access_roles / access_groups: the client's app access rule. A
-- user may use the client if one of its effective roles is in
-- access_roles or it belongs to a group in access_groups; both empty lets
-- everyone in. Group ids, not a foreign key: a deleted group simply stops
-- admitting anyone (the API refuses unknown ids when the rule is written).
--
-- usage_daily: aggregated usage counters, one row per (day, metric, key),
-- incremented in batches by each instance and trimmed by the janitor to
-- the configured retention.

-- +goose Up
ALTER TABLE clients ADD COLUMN IF NOT EXISTS access_roles text[] NOT NULL DEFAULT '{}';
ALTER TABLE clients ADD COLUMN IF NOT EXISTS access_groups text[] NOT NULL DEFAULT '{}';

CREATE TABLE IF NOT EXISTS usage_daily (
    day    date   NOT NULL,
    metric text   NOT NULL,
    key    text   NOT NULL,
    count  bigint NOT NULL CONSTRAINT usage_daily_count_check CHECK (count >= 0),
    PRIMARY KEY (day, metric, key)
);
CREATE INDEX IF NOT EXISTS usage_daily_metric_day_idx ON usage_daily (metric, day);
