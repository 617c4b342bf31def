-- The device authorization grant (RFC 8628). A row is one authorization a
-- device started: the device code and the user code are kept only as
-- digests. The poll record (last_polled_at, interval_seconds) lives here,
-- so slow_down is enforced across instances; redeemed_at makes the code
-- one-use in the database. The janitor sweeps rows once they expire.

-- +goose Up
CREATE TABLE IF NOT EXISTS device_codes (
    signature        text PRIMARY KEY,
    user_code        text NOT NULL CONSTRAINT device_codes_user_code_key UNIQUE,
    client_id        text COLLATE "C" NOT NULL
        CONSTRAINT device_codes_client_id_fkey REFERENCES clients (id) ON DELETE CASCADE,
    scopes           text[] NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'pending'
        CONSTRAINT device_codes_status_check CHECK (status IN ('pending', 'approved', 'denied')),
    interval_seconds integer NOT NULL CONSTRAINT device_codes_interval_check CHECK (interval_seconds > 0),
    last_polled_at   timestamptz,
    requested_at     timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    user_id          uuid
        CONSTRAINT device_codes_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    session          jsonb,
    redeemed_at      timestamptz
);
-- The per-client bound on live codes, and the janitor's sweep.
CREATE INDEX IF NOT EXISTS device_codes_client_id_expires_at_idx ON device_codes (client_id, expires_at);
CREATE INDEX IF NOT EXISTS device_codes_expires_at_idx ON device_codes (expires_at);
CREATE INDEX IF NOT EXISTS device_codes_user_id_idx ON device_codes (user_id);
