-- Per-user IP rules and session limit (README "Account security").
--
-- ip_allow and ip_deny are the user's address rules: a deny prefix that
-- contains the client's address refuses it; a non-empty allow list admits
-- only the addresses it contains. cidr (not inet) because a rule is a
-- network: PostgreSQL refuses host bits right of the mask, as the API does.
-- Empty arrays, never NULL, so that reading them needs no special case.
--
-- session_limit caps the user's live login sessions: NULL takes the
-- server's sessions.limit, 0 means none.

-- +goose Up
ALTER TABLE users
    ADD COLUMN IF NOT EXISTS ip_allow      cidr[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS ip_deny       cidr[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS session_limit integer CHECK (session_limit >= 0);
