-- The audit log becomes a hash chain (store/auditchain.go documents the
-- encoding): each entry carries digest = SHA-256(previous digest ||
-- canonical encoding of the entry), so that an edit, a deletion or an
-- insertion is found by `gatehouse audit verify`.
--
-- Entries written before this migration keep a NULL digest: the chain
-- starts at the first entry appended after it (audit_chain_head.first_id).
-- Backfilling them would need the canonical encoding in SQL and an UPDATE
-- the append-only trigger refuses, and would vouch for rows nobody checked.
--
-- audit_chain_head is one row, locked FOR UPDATE by every append: appends
-- are ordered by it, so each links to the one committed before it, and ids
-- of chained entries are the head's plus one, without gaps (a rolled-back
-- append rolls the head back too).

-- +goose Up
ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS digest bytea
    CHECK (digest IS NULL OR octet_length(digest) = 32);

CREATE TABLE IF NOT EXISTS audit_chain_head (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- The id of the first chained entry; older entries have no digest.
    first_id  bigint NOT NULL,
    -- The newest chained entry and its digest; first_id - 1 and NULL
    -- before the first.
    last_id   bigint NOT NULL,
    digest    bytea
);
INSERT INTO audit_chain_head (first_id, last_id, digest)
SELECT coalesce(max(id), 0) + 1, coalesce(max(id), 0), NULL FROM audit_log
ON CONFLICT (singleton) DO NOTHING;
