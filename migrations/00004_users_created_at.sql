-- Users newest (or oldest) first: GET /api/v1/users?sort=created_at pages
-- by the keyset (created_at, id), and this index serves the order and the
-- cursor's row comparison in either direction, as users_username_idx does
-- for the username order. id breaks ties: several users may be created in
-- one microsecond.

-- +goose Up

CREATE INDEX users_created_at_id_idx ON users (created_at, id);
