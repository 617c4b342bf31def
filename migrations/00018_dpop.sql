-- DPoP (RFC 9449): sender-constrained access tokens.
--
-- dpop_proofs records each DPoP proof presented, by the SHA-256 digest of
-- its key thumbprint and jti, until its acceptance window has passed: the
-- primary key makes a replay fail on whichever instance it reaches. Rows
-- are short-lived (the iat window) and swept by the janitor.
--
-- clients.dpop_bound_access_tokens (RFC 9449 §5.2): the client must send a
-- proof with every token request, so all of its access tokens are bound.

-- +goose Up
CREATE TABLE IF NOT EXISTS dpop_proofs (
    jti_hash   bytea PRIMARY KEY CONSTRAINT dpop_proofs_jti_hash_check CHECK (length(jti_hash) = 32),
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS dpop_proofs_expires_at_idx ON dpop_proofs (expires_at);

ALTER TABLE clients ADD COLUMN IF NOT EXISTS dpop_bound_access_tokens boolean NOT NULL DEFAULT false;
