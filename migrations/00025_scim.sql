-- SCIM 2.0 provisioning (scim/).
--
-- external_id is the provisioning client's own identifier of the user or
-- group (RFC 7643 section 3.1 externalId): stored as given, '' for none, bounded
-- here and validated by domain/. It is not unique: SCIM leaves it to the
-- client, and two clients may use the same values. The scim:provision
-- permission is the built-in admin role's.

-- +goose Up
ALTER TABLE users
    ADD COLUMN IF NOT EXISTS external_id text NOT NULL DEFAULT ''
        CONSTRAINT users_external_id_check CHECK (length(external_id) <= 255);

ALTER TABLE groups
    ADD COLUMN IF NOT EXISTS external_id text NOT NULL DEFAULT ''
        CONSTRAINT groups_external_id_check CHECK (length(external_id) <= 255);

UPDATE roles SET permissions = array_append(permissions, 'scim:provision')
    WHERE name = 'admin' AND built_in AND NOT ('scim:provision' = ANY(permissions));
