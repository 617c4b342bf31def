-- Token exchange (RFC 8693) impersonation: the users:impersonate
-- permission, which the built-in admin role carries (store.BuiltInRoles).
-- Only the admin row changes; a deployment that edited the admin role keeps
-- its edits and gains the one permission.

-- +goose Up
UPDATE roles SET permissions = array_append(permissions, 'users:impersonate')
    WHERE name = 'admin' AND built_in AND NOT ('users:impersonate' = ANY(permissions));
