-- OpenID Connect Back-Channel Logout 1.0: clients register a URI to be told
-- when a login session they received tokens in ends, and the notifications
-- wait in a durable queue until the client has accepted them.
--
-- The queue keeps what the logout token will say (client, subject, sid), not
-- the token: it is signed at each attempt, since it lives two minutes and a
-- retry may come hours later. A claim moves next_attempt_at forward by a
-- lease, so a sender that dies mid-delivery leaves the row to be tried again.

-- +goose Up
ALTER TABLE clients ADD COLUMN IF NOT EXISTS backchannel_logout_uri text NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN IF NOT EXISTS backchannel_logout_session_required boolean NOT NULL DEFAULT false;

CREATE TABLE IF NOT EXISTS backchannel_logouts (
    id              uuid PRIMARY KEY,
    client_id       text COLLATE "C" NOT NULL
        CONSTRAINT backchannel_logouts_client_id_fkey REFERENCES clients (id) ON DELETE CASCADE,
    -- No reference to users: a deleted user's clients are still told.
    subject         text NOT NULL,
    session_id      text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS backchannel_logouts_next_attempt_at_idx ON backchannel_logouts (next_attempt_at);
-- Serves the cascade from clients.
CREATE INDEX IF NOT EXISTS backchannel_logouts_client_id_idx ON backchannel_logouts (client_id);
