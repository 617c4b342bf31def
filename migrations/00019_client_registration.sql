-- Dynamic client registration (RFC 7591/7592).
--
-- A registered client registered itself at the registration endpoint: it
-- is managed with a registration access token, of which only the SHA-256
-- digest is kept, and the janitor deletes it once unused for the
-- configured time. client_uri, logo_uri and contacts are RFC 7591 §2
-- metadata shown to people. last_used_at is when it last got a token, written at
-- most once an hour; a client never used counts from created_at.

-- +goose Up
ALTER TABLE clients
    ADD COLUMN IF NOT EXISTS registered boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS registration_token_hash bytea,
    ADD COLUMN IF NOT EXISTS last_used_at timestamptz,
    ADD COLUMN IF NOT EXISTS client_uri text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS logo_uri text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS contacts text[] NOT NULL DEFAULT '{}';

-- The janitor's question: registered clients unused since a time.
CREATE INDEX IF NOT EXISTS clients_registered_last_used
    ON clients ((coalesce(last_used_at, created_at))) WHERE registered;
