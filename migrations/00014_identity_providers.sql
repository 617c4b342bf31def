-- Upstream OpenID Connect identity providers, and the upstream accounts
-- linked to users.
--
-- An upstream account is named by its issuer and subject (OIDC Core §2:
-- sub is unique only within its issuer), so the pair is unique: one
-- upstream account signs in as at most one user. The issuer is kept on the
-- link itself, not only through the provider, so that a provider whose
-- issuer is changed does not carry its old links over to another upstream.

-- +goose Up
CREATE TABLE IF NOT EXISTS identity_providers (
    id                     text PRIMARY KEY
        CONSTRAINT identity_providers_id_check CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    display_name           text NOT NULL,
    issuer                 text NOT NULL,
    client_id              text NOT NULL,
    -- AES-GCM sealed by the domain; empty for a public client.
    client_secret_enc      bytea NOT NULL DEFAULT '',
    scopes                 text[] NOT NULL DEFAULT '{}',
    username_claim         text NOT NULL,
    email_claim            text NOT NULL,
    name_claim             text NOT NULL,
    link_by_verified_email boolean NOT NULL DEFAULT false,
    new_user_status        text NOT NULL DEFAULT 'pending'
        CONSTRAINT identity_providers_new_user_status_check CHECK (new_user_status IN ('pending', 'active')),
    new_user_roles         text[] NOT NULL DEFAULT '{}',
    enabled                boolean NOT NULL DEFAULT true,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS linked_identities (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL
        CONSTRAINT linked_identities_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    provider_id  text NOT NULL
        CONSTRAINT linked_identities_provider_id_fkey REFERENCES identity_providers (id) ON DELETE CASCADE,
    issuer       text NOT NULL,
    subject      text NOT NULL,
    email        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    CONSTRAINT linked_identities_issuer_subject_key UNIQUE (issuer, subject)
);
CREATE INDEX IF NOT EXISTS linked_identities_user_id_idx ON linked_identities (user_id, created_at);
CREATE INDEX IF NOT EXISTS linked_identities_provider_id_idx ON linked_identities (provider_id);
