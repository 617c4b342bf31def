-- Account recovery and email verification: single-use tickets emailed to a
-- user, and the durable outbox those emails wait in until the SMTP server
-- has accepted them.
--
-- A ticket is stored only as the SHA-256 digest of its 32-byte random token:
-- whoever reads this table (a backup, a replica) cannot use a ticket. The
-- purpose keeps a verification ticket from resetting a password, and the
-- email column binds a verification ticket to the address it was sent to.

-- +goose Up
CREATE TABLE IF NOT EXISTS user_tickets (
    digest     bytea PRIMARY KEY
        CONSTRAINT user_tickets_digest_check CHECK (octet_length(digest) = 32),
    purpose    text NOT NULL
        CONSTRAINT user_tickets_purpose_check CHECK (purpose IN ('password_reset', 'email_verification')),
    user_id    uuid NOT NULL
        CONSTRAINT user_tickets_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    email      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
-- Serves the resend rate limit (the user's latest ticket of a purpose) and
-- the cascade from users.
CREATE INDEX IF NOT EXISTS user_tickets_user_idx ON user_tickets (user_id, purpose, created_at);
-- Serves the janitor's bounded deletes of expired tickets.
CREATE INDEX IF NOT EXISTS user_tickets_expires_at_idx ON user_tickets (expires_at);

-- Mail waiting to be sent. Rows are deleted once the server accepted them
-- (their bodies carry one-time links, which must not be kept) or once
-- delivery is given up. A claim moves next_attempt_at forward by a lease, so
-- a sender that dies mid-delivery leaves the row to be tried again later.
CREATE TABLE IF NOT EXISTS mail_outbox (
    id              uuid PRIMARY KEY,
    recipient       text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS mail_outbox_next_attempt_at_idx ON mail_outbox (next_attempt_at);
