-- The whole schema of the store contract (store/store.go). Identifiers that
-- are listed in order (client ids, role names, usernames) use the "C"
-- collation so that PostgreSQL sorts them byte-wise, exactly as the Go memory
-- store does, whatever the cluster's default collation is.

-- +goose Up

CREATE TABLE clients (
    id                         text COLLATE "C" PRIMARY KEY,
    name                       text NOT NULL DEFAULT '',
    -- SHA-256 digest of the secret; NULL for public and private_key_jwt clients.
    secret_hash                bytea,
    token_endpoint_auth_method text NOT NULL DEFAULT '',
    redirect_uris              text[] NOT NULL DEFAULT '{}',
    post_logout_redirect_uris  text[] NOT NULL DEFAULT '{}',
    allowed_origins            text[] NOT NULL DEFAULT '{}',
    grant_types                text[] NOT NULL DEFAULT '{}',
    response_types             text[] NOT NULL DEFAULT '{}',
    scopes                     text[] NOT NULL DEFAULT '{}',
    audience                   text[] NOT NULL DEFAULT '{}',
    public                     boolean NOT NULL DEFAULT false,
    first_party                boolean NOT NULL DEFAULT false,
    jwks                       jsonb,
    access_token_format        text NOT NULL DEFAULT ''
        CONSTRAINT clients_access_token_format_check CHECK (access_token_format IN ('', 'opaque', 'jwt')),
    -- Zero means "use the server default".
    authorization_code_lifetime interval NOT NULL DEFAULT '0',
    access_token_lifetime       interval NOT NULL DEFAULT '0',
    id_token_lifetime           interval NOT NULL DEFAULT '0',
    refresh_token_lifetime      interval NOT NULL DEFAULT '0',
    -- Roles of a client_credentials client acting as a service account.
    roles                      text[] NOT NULL DEFAULT '{}',
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL
);

CREATE TABLE roles (
    name            text COLLATE "C" PRIMARY KEY,
    description     text NOT NULL DEFAULT '',
    parent          text COLLATE "C"
        CONSTRAINT roles_parent_fkey REFERENCES roles (name) ON DELETE RESTRICT,
    permissions     text[] NOT NULL DEFAULT '{}',
    suggested_goals text[] NOT NULL DEFAULT '{}',
    built_in        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT roles_parent_not_self CHECK (parent <> name)
);
CREATE INDEX roles_parent_idx ON roles (parent);

-- Built-in roles, exactly as store.BuiltInRoles() defines them (a test checks
-- they agree). Parents are inserted before their children.
INSERT INTO roles (name, description, parent, permissions, built_in) VALUES
    ('viewer', 'Reads dashboards and its own profile.', NULL,
        ARRAY['profile:read', 'dashboards:read'], true),
    ('user', 'Edits its own profile and makes personal API tokens.', 'viewer',
        ARRAY['profile:write', 'tokens:self'], true),
    ('manager', 'Lists and reads users, changes their status, reviews access requests, makes tokens for users, reads the audit log.', 'user',
        ARRAY['users:read', 'users:status', 'access-requests:review', 'tokens:users', 'audit:read'], true),
    ('admin', 'Everything, including roles, user deletion, clients, system tokens and settings.', 'manager',
        ARRAY['users:write', 'users:roles', 'users:delete', 'roles:write', 'groups:write', 'tokens:system', 'clients:write', 'sessions:revoke', 'settings:write'], true);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    username       text COLLATE "C" NOT NULL,
    email          text NOT NULL,
    password_hash  text NOT NULL DEFAULT '',
    full_name      text NOT NULL DEFAULT '',
    department     text NOT NULL DEFAULT '',
    goals          text[] NOT NULL DEFAULT '{}',
    preferences    jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT users_preferences_check CHECK (jsonb_typeof(preferences) = 'object'),
    status         text NOT NULL
        CONSTRAINT users_status_check CHECK (status IN ('pending', 'active', 'locked', 'disabled')),
    email_verified boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    last_login_at  timestamptz,
    expires_at     timestamptz
);
-- Uniqueness is case-insensitive; the plain username index serves the
-- keyset pagination of ListUsers (WHERE username > $after ORDER BY username).
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_username_idx ON users (username);

CREATE TABLE user_roles (
    user_id   uuid NOT NULL
        CONSTRAINT user_roles_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    role_name text COLLATE "C" NOT NULL
        CONSTRAINT user_roles_role_name_fkey REFERENCES roles (name) ON DELETE RESTRICT,
    PRIMARY KEY (user_id, role_name)
);
-- Serves ListUsers' role filter and the RESTRICT check when a role is deleted.
CREATE INDEX user_roles_role_name_idx ON user_roles (role_name, user_id);

CREATE TABLE login_sessions (
    -- SHA-256 (hex) of the cookie value.
    id           text PRIMARY KEY,
    user_id      uuid NOT NULL
        CONSTRAINT login_sessions_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    auth_time    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    user_agent   text NOT NULL DEFAULT '',
    ip_address   text NOT NULL DEFAULT ''
);
CREATE INDEX login_sessions_user_id_idx ON login_sessions (user_id, auth_time DESC);
CREATE INDEX login_sessions_expires_at_idx ON login_sessions (expires_at);

-- A grant is the "token header" shared by every code and token of one
-- authorization and of the refresh rotations that follow it.
CREATE TABLE grants (
    id               text PRIMARY KEY,
    client_id        text COLLATE "C" NOT NULL
        CONSTRAINT grants_client_id_fkey REFERENCES clients (id) ON DELETE CASCADE,
    subject          text NOT NULL,
    -- NULL for client_credentials grants, which have no user.
    user_id          uuid
        CONSTRAINT grants_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    login_session_id text
        CONSTRAINT grants_login_session_id_fkey REFERENCES login_sessions (id) ON DELETE SET NULL,
    granted_scopes   text[] NOT NULL DEFAULT '{}',
    requested_at     timestamptz NOT NULL
);
CREATE INDEX grants_client_id_idx ON grants (client_id);
CREATE INDEX grants_user_id_idx ON grants (user_id);
CREATE INDEX grants_login_session_id_idx ON grants (login_session_id);

CREATE TABLE oauth_tokens (
    kind           text NOT NULL
        CONSTRAINT oauth_tokens_kind_check CHECK (kind IN ('authorize_code', 'access_token', 'refresh_token', 'oidc_session', 'pkce')),
    -- The signature part of the token; the token value itself is never stored.
    signature      text NOT NULL,
    request_id     text NOT NULL
        CONSTRAINT oauth_tokens_request_id_fkey REFERENCES grants (id) ON DELETE CASCADE,
    -- A refresh may narrow the scopes, so each token keeps its own.
    granted_scopes text[] NOT NULL DEFAULT '{}',
    requested_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    -- Used codes and rotated refresh tokens are kept inactive, not deleted,
    -- so that fosite can detect their reuse.
    active         boolean NOT NULL DEFAULT true,
    request        jsonb,
    PRIMARY KEY (kind, signature)
);
CREATE INDEX oauth_tokens_request_id_kind_idx ON oauth_tokens (request_id, kind);
CREATE INDEX oauth_tokens_expires_at_idx ON oauth_tokens (expires_at);

CREATE TABLE par_requests (
    request_uri text PRIMARY KEY,
    client_id   text COLLATE "C" NOT NULL
        CONSTRAINT par_requests_client_id_fkey REFERENCES clients (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    request     jsonb
);
CREATE INDEX par_requests_client_id_idx ON par_requests (client_id);
CREATE INDEX par_requests_expires_at_idx ON par_requests (expires_at);

CREATE TABLE consents (
    user_id    uuid NOT NULL
        CONSTRAINT consents_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    client_id  text COLLATE "C" NOT NULL
        CONSTRAINT consents_client_id_fkey REFERENCES clients (id) ON DELETE CASCADE,
    scopes     text[] NOT NULL DEFAULT '{}',
    granted_at timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_id_idx ON consents (client_id);

CREATE TABLE signing_keys (
    id           text PRIMARY KEY,
    algorithm    text NOT NULL,
    state        text NOT NULL
        CONSTRAINT signing_keys_state_check CHECK (state IN ('next', 'active', 'retired')),
    -- AEAD-encrypted private JWK.
    private_key  bytea NOT NULL,
    public_key   jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    verify_until timestamptz
);
-- At most one active key and at most one next key: the database, not only
-- the rotation code, keeps two instances from both adding one.
CREATE UNIQUE INDEX signing_keys_state_key ON signing_keys (state) WHERE state IN ('active', 'next');
CREATE INDEX signing_keys_created_at_idx ON signing_keys (created_at);

CREATE TABLE jwt_ids (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX jwt_ids_expires_at_idx ON jwt_ids (expires_at);

CREATE TABLE trusted_issuers (
    id         uuid PRIMARY KEY,
    issuer     text NOT NULL,
    -- '' means the issuer may assert any subject.
    subject    text NOT NULL DEFAULT '',
    key_id     text NOT NULL DEFAULT '',
    public_key jsonb NOT NULL,
    scopes     text[] NOT NULL DEFAULT '{}',
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT trusted_issuers_issuer_subject_key_id_key UNIQUE (issuer, subject, key_id)
);
