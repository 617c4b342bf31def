-- Multi-factor authentication: second factors (TOTP now; passkeys use the
-- same table with their own kind), one-use recovery codes, the pending
-- second step of a sign-in, and what a login session's sign-in proved.

-- +goose Up
CREATE TABLE IF NOT EXISTS mfa_factors (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL
        CONSTRAINT mfa_factors_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    kind         text NOT NULL,
    -- The secret sealed with AES-256-GCM under a key derived from the
    -- server secret; never stored in the clear.
    secret_enc   bytea NOT NULL,
    -- NULL while pending: the user has not yet proved the factor works.
    confirmed_at timestamptz,
    -- The last TOTP time step accepted; a code of this step or an earlier
    -- one is refused (no replay within a code's window).
    last_step    bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS mfa_factors_user_id_idx ON mfa_factors (user_id, created_at);

CREATE TABLE IF NOT EXISTS mfa_recovery_codes (
    user_id    uuid NOT NULL
        CONSTRAINT mfa_recovery_codes_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 (hex) of the code: 50 random bits each, nothing a slow hash
    -- would protect better.
    digest     text NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    PRIMARY KEY (user_id, digest)
);

CREATE TABLE IF NOT EXISTS mfa_challenges (
    -- SHA-256 (hex) of the challenge cookie's value.
    id         text PRIMARY KEY,
    user_id    uuid NOT NULL
        CONSTRAINT mfa_challenges_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    return_to  text NOT NULL DEFAULT '',
    attempts   integer NOT NULL DEFAULT 0,
    amr        text[] NOT NULL DEFAULT '{}',
    -- The user must set up a factor before the sign-in completes (policy).
    enrol      boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);

ALTER TABLE login_sessions
    ADD COLUMN IF NOT EXISTS amr text[],
    ADD COLUMN IF NOT EXISTS acr text;

