-- Organizational areas and delegated administration (areas).
--
-- areas is a tree: parent_id names the parent, NULL for a root. The
-- store refuses a move that would make a cycle, under an advisory lock
-- taken by every writer of the tree, so two concurrent moves cannot make
-- one together. An area with children, members or role grants cannot be
-- deleted (ON DELETE RESTRICT): the tree and its delegations are undone
-- on purpose, never as a side effect.
--
-- area_members is many-to-many; is_default marks the one area (at most)
-- that is the user's default, which tokens carry as the area claim. A
-- membership goes with its user.
--
-- area_role_grants gives a user a role WITHIN an area: its permissions
-- apply to the users of that area's subtree only. user_roles is left as
-- it is.

-- +goose Up
CREATE TABLE IF NOT EXISTS areas (
    id uuid PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    parent_id uuid REFERENCES areas (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX IF NOT EXISTS areas_parent ON areas (parent_id);

CREATE TABLE IF NOT EXISTS area_members (
    area_id uuid NOT NULL REFERENCES areas (id) ON DELETE RESTRICT,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    is_default boolean NOT NULL DEFAULT false,
    PRIMARY KEY (area_id, user_id)
);
CREATE INDEX IF NOT EXISTS area_members_user ON area_members (user_id);
CREATE UNIQUE INDEX IF NOT EXISTS area_members_one_default ON area_members (user_id) WHERE is_default;

CREATE TABLE IF NOT EXISTS area_role_grants (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_name text NOT NULL REFERENCES roles (name) ON DELETE RESTRICT,
    area_id uuid NOT NULL REFERENCES areas (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, role_name, area_id)
);
CREATE INDEX IF NOT EXISTS area_role_grants_area ON area_role_grants (area_id);


-- The areas:write permission, which the built-in admin role carries
-- (store.BuiltInRoles), as 00016 added users:impersonate.
UPDATE roles SET permissions = array_append(permissions, 'areas:write')
    WHERE name = 'admin' AND built_in AND NOT ('areas:write' = ANY(permissions));
