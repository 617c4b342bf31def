-- The access tokens of client_credentials grants (store.ClientTokens).
--
-- Such a token is its grant's only token: no refresh token, code or second
-- access token ever joins it. So one row carries the grant's header (client,
-- subject, scopes, requested-at) as well as the token, instead of a grants
-- row and an oauth_tokens row. The busiest write of the server then inserts
-- one heap tuple, four index entries and checks one foreign key (the client,
-- whose row is always cached), where a grant and a token took two tuples,
-- seven index entries (grants' three secondary indexes take NULL entries
-- too) and two foreign keys.
--
-- The indexes are what the contract reads by: the signature (GetToken,
-- introspection), the request id (revocation, GetGrant), the client
-- (DeleteClient's cascade) and the expiry (the janitor).

-- +goose Up
CREATE TABLE IF NOT EXISTS client_tokens (
    -- The signature part of the token; the token value itself is never stored.
    signature      text PRIMARY KEY,
    -- The grant's id (fosite's request id); no grants row has it.
    request_id     text NOT NULL,
    client_id      text COLLATE "C" NOT NULL
        CONSTRAINT client_tokens_client_id_fkey REFERENCES clients (id) ON DELETE CASCADE,
    subject        text NOT NULL,
    granted_scopes text[] NOT NULL DEFAULT '{}',
    requested_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    active         boolean NOT NULL DEFAULT true,
    request        jsonb
);
CREATE INDEX IF NOT EXISTS client_tokens_request_id_idx ON client_tokens (request_id);
CREATE INDEX IF NOT EXISTS client_tokens_client_id_idx ON client_tokens (client_id);
CREATE INDEX IF NOT EXISTS client_tokens_expires_at_idx ON client_tokens (expires_at);
