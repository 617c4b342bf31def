-- Failed sign-ins counted per (account, client address), so that guessing
-- one account's password from one address soon stops for that address
-- while its owner, signing in from anywhere else, is not locked out. The
-- address is the key the domain groups it under (an IPv4 address, or an
-- IPv6 /64). A row lives until the janitor sweeps it, once its last failure
-- is older than the window (login.lockout); a success from the address
-- deletes it at once.

-- +goose Up
CREATE TABLE IF NOT EXISTS sign_in_failures (
    user_id  uuid NOT NULL
        CONSTRAINT sign_in_failures_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    address  text NOT NULL,
    count    integer NOT NULL CONSTRAINT sign_in_failures_count_check CHECK (count > 0),
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL,
    PRIMARY KEY (user_id, address)
);
-- The janitor's sweep (oldest first) and the account-wide count's window.
CREATE INDEX IF NOT EXISTS sign_in_failures_last_at_idx ON sign_in_failures (last_at);
