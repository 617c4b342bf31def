-- The stored request of codes and tokens is the provider's compact binary
-- encoding (provider/requestcodec.go), no longer JSON: the row is written
-- by every token request and read by every refresh and introspection
-- miss, and parsing it as jsonb cost PostgreSQL as much again as encoding
-- it cost the server. Rows written before keep their JSON as its UTF-8
-- bytes, which the provider still reads. Rewrites both tables.

-- +goose Up
ALTER TABLE oauth_tokens ALTER COLUMN request TYPE bytea USING convert_to(request::text, 'UTF8');
ALTER TABLE client_tokens ALTER COLUMN request TYPE bytea USING convert_to(request::text, 'UTF8');
