-- The reuse interval of refresh tokens: a client whose refresh answer was
-- lost (the rotation committed, the response never arrived) presents the
-- rotated token again. Within a short interval, from the same client and
-- once, that is a retry and not a theft: the rotation is undone (the
-- successor it issued dies) and a fresh pair is issued. Telling the two
-- apart needs to know when a token was rotated, which token replaced it,
-- and whether its rotation was undone already. Tokens that existed before
-- this migration have none of it, so presenting them again after their
-- rotation stays a reuse, as it was.

-- +goose Up
ALTER TABLE oauth_tokens
    -- The signature of the refresh token this one was issued for.
    ADD COLUMN predecessor text,
    -- When this token was exchanged for a successor; an inactive token
    -- without it was revoked.
    ADD COLUMN rotated_at  timestamptz,
    -- When this token's rotation was undone (at most once).
    ADD COLUMN rewound_at  timestamptz;
CREATE INDEX oauth_tokens_predecessor_idx ON oauth_tokens (predecessor) WHERE predecessor IS NOT NULL;

