-- App access rules, continued (appaccess): areas in the rule, and access
-- requests for one application.
--
-- clients.access_areas: area codes; a member of a listed area or of any
-- area below it is admitted. Codes, not ids, as the areas API names them
-- (a code never changes); not a foreign key, as access_groups is not: a
-- deleted area simply stops admitting anyone (the API refuses unknown codes
-- when the rule is written).
--
-- access_requests.client_id: the client a request asks access to (the
-- page a refused user sees at the authorization endpoint offers one); NULL
-- for a request for a role alone. Not a foreign key: a decided request is
-- history, and stays when its client is deleted; the domain checks the
-- client exists when the request is made.
--
-- One pending request per user becomes one per user and client: a user
-- may wait for several applications at once, but never twice for one (two
-- concurrent submissions still cannot both succeed).

-- +goose Up
ALTER TABLE clients ADD COLUMN IF NOT EXISTS access_areas text[] NOT NULL DEFAULT '{}';

ALTER TABLE access_requests ADD COLUMN IF NOT EXISTS client_id text COLLATE "C";
CREATE UNIQUE INDEX IF NOT EXISTS access_requests_one_pending_per_client_key
    ON access_requests (user_id, (COALESCE(client_id, ''))) WHERE status = 'pending';
DROP INDEX IF EXISTS access_requests_one_pending_key;
