-- The party that acted on the recorded actor's behalf: when a request
-- carries a token one principal made for another (an API token of kind
-- user or system), the entry names both, as RFC 8693's "act" claim does.
-- '' when the actor acted for itself.

-- +goose Up
ALTER TABLE audit_log ADD COLUMN act text NOT NULL DEFAULT '';
