-- Time-boxed role grants, denied permissions and custom permissions.
--
-- A user_roles row with expires_at stops counting at that instant (the
-- domain filters on read with its clock); the janitor then deletes it in
-- batches and audits each removal. user_denied_permissions is a per-user
-- list that wins over every role and group. permissions holds the names
-- administrators define beside the built-in ones (which are not rows:
-- they are the code's, and a definition may not shadow them).

-- +goose Up
ALTER TABLE user_roles ADD COLUMN IF NOT EXISTS expires_at timestamptz;

-- The janitor's question: grants that have expired.
CREATE INDEX IF NOT EXISTS user_roles_expires_at_idx
    ON user_roles (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS user_denied_permissions (
    user_id    uuid NOT NULL
        CONSTRAINT user_denied_permissions_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    permission text COLLATE "C" NOT NULL,
    PRIMARY KEY (user_id, permission)
);

CREATE TABLE IF NOT EXISTS permissions (
    name        text COLLATE "C" PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
