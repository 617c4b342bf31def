-- ID tokens signed per client (OIDC Registration's
-- id_token_signed_response_alg), and one live key per algorithm.
--
-- A client that registers nothing ('') gets RS256, the default OIDC
-- Registration §2 requires; ES256 is the cheap choice for relying parties
-- that accept it.
--
-- The signing key set keeps an active and a next key for each algorithm
-- (RS256 and ES256 side by side), so the one-active/one-next rule becomes
-- one per (algorithm, state): the database, not only the rotation code,
-- still keeps two instances from both adding one.

-- +goose Up
ALTER TABLE clients ADD COLUMN IF NOT EXISTS id_token_signed_response_alg text NOT NULL DEFAULT ''
    CONSTRAINT clients_id_token_signed_response_alg_check
        CHECK (id_token_signed_response_alg IN ('', 'RS256', 'ES256'));

DROP INDEX IF EXISTS signing_keys_state_key;
CREATE UNIQUE INDEX IF NOT EXISTS signing_keys_algorithm_state_key
    ON signing_keys (algorithm, state) WHERE state IN ('active', 'next');

