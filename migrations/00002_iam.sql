-- Identity and access management (store/iam.go): sign-in bookkeeping on
-- users, groups, access requests, API tokens and the audit log. Names that
-- are listed in order use the "C" collation, as in 00001.

-- +goose Up

-- A constant default makes these metadata-only changes: existing rows are
-- not rewritten, so the migration is quick on a large users table.
ALTER TABLE users
    ADD COLUMN failed_logins integer NOT NULL DEFAULT 0
        CONSTRAINT users_failed_logins_check CHECK (failed_logins >= 0),
    ADD COLUMN locked_until timestamptz;

CREATE TABLE groups (
    id          uuid PRIMARY KEY,
    name        text COLLATE "C" NOT NULL
        CONSTRAINT groups_name_key UNIQUE,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE group_roles (
    group_id  uuid NOT NULL
        CONSTRAINT group_roles_group_id_fkey REFERENCES groups (id) ON DELETE CASCADE,
    -- RESTRICT: a role a group carries cannot be deleted (store.Roles.DeleteRole).
    role_name text COLLATE "C" NOT NULL
        CONSTRAINT group_roles_role_name_fkey REFERENCES roles (name) ON DELETE RESTRICT,
    PRIMARY KEY (group_id, role_name)
);
-- Serves the RESTRICT check when a role is deleted.
CREATE INDEX group_roles_role_name_idx ON group_roles (role_name);

CREATE TABLE group_members (
    group_id uuid NOT NULL
        CONSTRAINT group_members_group_id_fkey REFERENCES groups (id) ON DELETE CASCADE,
    user_id  uuid NOT NULL
        CONSTRAINT group_members_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
-- Serves a user's groups (effective permissions) and the cascade when a
-- user is deleted; the primary key serves ListUsers' group filter.
CREATE INDEX group_members_user_id_idx ON group_members (user_id, group_id);

CREATE TABLE access_requests (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL
        CONSTRAINT access_requests_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    requested_role text COLLATE "C" NOT NULL,
    purpose        text NOT NULL DEFAULT '',
    status         text NOT NULL
        CONSTRAINT access_requests_status_check CHECK (status IN ('pending', 'approved', 'denied', 'cancelled')),
    -- The requested role while the request is pending, NULL once decided.
    -- Its foreign key makes a request for an unknown role fail, and keeps a
    -- role that a pending request asks for from being deleted (RESTRICT),
    -- with the database's own race-free checks; a decided request keeps the
    -- name in requested_role as history and no longer holds the role.
    pending_role   text COLLATE "C"
        GENERATED ALWAYS AS (CASE WHEN status = 'pending' THEN requested_role END) STORED
        CONSTRAINT access_requests_pending_role_fkey REFERENCES roles (name) ON DELETE RESTRICT,
    -- The role an approval granted; '' until then and for other decisions.
    -- No foreign key: it is a record of the decision, not an assignment
    -- (the assignment itself is in user_roles).
    granted_role   text COLLATE "C" NOT NULL DEFAULT '',
    -- The actor of the decision ("user:<id>", "client:<id>", "cli").
    decided_by     text NOT NULL DEFAULT '',
    comment        text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    decided_at     timestamptz
);
-- At most one pending request per user, whatever code writes: two
-- concurrent submissions cannot both succeed.
CREATE UNIQUE INDEX access_requests_one_pending_key ON access_requests (user_id) WHERE status = 'pending';
-- The listing order (newest first) and its keyset cursor.
CREATE INDEX access_requests_created_at_idx ON access_requests (created_at DESC, id DESC);
-- The review queue (pending requests, newest first) without walking past
-- every decided one.
CREATE INDEX access_requests_pending_idx ON access_requests (created_at DESC, id DESC) WHERE status = 'pending';
-- A user's requests, and the cascade when a user is deleted.
CREATE INDEX access_requests_user_id_idx ON access_requests (user_id, created_at DESC, id DESC);
-- Serves the RESTRICT check when a role is deleted.
CREATE INDEX access_requests_pending_role_idx ON access_requests (pending_role) WHERE pending_role IS NOT NULL;

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    kind         text NOT NULL
        CONSTRAINT api_tokens_kind_check CHECK (kind IN ('personal', 'user', 'system')),
    -- Personal and user tokens act as a user, system tokens as a service
    -- account (a client with roles); the principal goes with its tokens.
    user_id      uuid
        CONSTRAINT api_tokens_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    client_id    text COLLATE "C"
        CONSTRAINT api_tokens_client_id_fkey REFERENCES clients (id) ON DELETE CASCADE,
    scopes       text[] NOT NULL DEFAULT '{}',
    -- SHA-256 digest of the secret; the secret itself is never stored.
    secret_hash  bytea NOT NULL
        CONSTRAINT api_tokens_secret_hash_key UNIQUE,
    created_by   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    CONSTRAINT api_tokens_principal_check CHECK (CASE kind
        WHEN 'system' THEN client_id IS NOT NULL AND user_id IS NULL
        ELSE user_id IS NOT NULL AND client_id IS NULL END)
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id, created_at DESC);
CREATE INDEX api_tokens_client_id_idx ON api_tokens (client_id, created_at DESC);
CREATE INDEX api_tokens_created_at_idx ON api_tokens (created_at DESC, id DESC);

-- The audit log has no foreign keys: it outlives the users, clients and
-- tokens it names (a hard delete leaves its own entry behind).
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor_type  text NOT NULL,
    actor_id    text NOT NULL DEFAULT '',
    -- "C" so that an action prefix (LIKE 'user.%') can range-scan the index.
    action      text COLLATE "C" NOT NULL,
    target_type text NOT NULL DEFAULT '',
    target_id   text NOT NULL DEFAULT '',
    ip_address  text NOT NULL DEFAULT '',
    changes     jsonb
);
-- Each filter walks its index newest first (WHERE x = $1 AND id < $cursor
-- ORDER BY id DESC).
CREATE INDEX audit_log_actor_id_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_target_id_idx ON audit_log (target_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Append-only in the database itself, so that no code path (nor a stray
-- UPDATE in psql) rewrites history. A statement trigger refuses even
-- statements that match no row. TRUNCATE is left alone: it is how test
-- databases are emptied (internal/pgtest.Reset), and it needs the table's
-- owner.
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
