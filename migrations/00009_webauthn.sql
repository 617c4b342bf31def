-- Passkeys (WebAuthn): the credentials users register, and the state of a
-- ceremony between its begin and its finish, kept on the server so that a
-- challenge is used once and expires.
--
-- login_sessions.amr/acr: how the session's user authenticated (RFC 8176
-- methods, and the context class), carried into ID tokens. Migration 00008
-- (second factors) adds the same columns the same way; whichever runs first
-- adds them and the other does nothing.

-- +goose Up
CREATE TABLE IF NOT EXISTS webauthn_credentials (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL
        CONSTRAINT webauthn_credentials_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    -- The authenticator's credential id: unique across users, since an
    -- assertion names only it (and the user handle) and must find one row.
    credential_id    bytea NOT NULL CONSTRAINT webauthn_credentials_credential_id_key UNIQUE,
    -- COSE_Key of the credential.
    public_key       bytea NOT NULL,
    sign_count       bigint NOT NULL DEFAULT 0,
    clone_warning    boolean NOT NULL DEFAULT false,
    -- The authenticator data flags byte (user present/verified, backup
    -- eligible/state).
    flags            smallint NOT NULL DEFAULT 0,
    attestation_type text NOT NULL DEFAULT '',
    transports       text[] NOT NULL DEFAULT '{}',
    aaguid           bytea,
    name             text NOT NULL,
    created_at       timestamptz NOT NULL,
    last_used_at     timestamptz
);
CREATE INDEX IF NOT EXISTS webauthn_credentials_user_id_idx ON webauthn_credentials (user_id, created_at);

CREATE TABLE IF NOT EXISTS webauthn_ceremonies (
    -- SHA-256 (hex) of the secret the browser holds.
    id           text PRIMARY KEY,
    -- NULL for a passwordless sign-in: nobody is known yet.
    user_id      uuid
        CONSTRAINT webauthn_ceremonies_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    session_data jsonb NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS webauthn_ceremonies_expires_at_idx ON webauthn_ceremonies (expires_at);

ALTER TABLE login_sessions ADD COLUMN IF NOT EXISTS amr text[];
ALTER TABLE login_sessions ADD COLUMN IF NOT EXISTS acr text;
