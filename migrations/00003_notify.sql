-- Change notifications: every instance caches clients, signing keys and
-- role definitions in memory, and drops what another instance (or the CLI,
-- or psql) changed when PostgreSQL tells it so. A trigger on each table
-- sends {"kind": ..., "id": ...} on the channel gatehouse_changes; NOTIFY is
-- transactional, so listeners hear of a change only once it is committed,
-- and never of one that was rolled back. The kinds are store.ChangeKind
-- values; store/postgres (listen.go) is the listener.

-- +goose Up

-- TG_ARGV[0] is the kind, TG_ARGV[1] the key column. A key too long for a
-- notification's 8000-byte payload is left out: "" means every record of
-- the kind, so a write never fails for want of room.
-- +goose StatementBegin
CREATE FUNCTION gatehouse_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    new_id text;
    old_id text;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_id := to_jsonb(NEW) ->> TG_ARGV[1];
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_id := to_jsonb(OLD) ->> TG_ARGV[1];
    END IF;
    IF new_id IS NOT NULL THEN
        PERFORM pg_notify('gatehouse_changes', json_build_object('kind', TG_ARGV[0],
            'id', CASE WHEN octet_length(new_id) <= 1000 THEN new_id ELSE '' END)::text);
    END IF;
    -- A key that changed (no code path does it, psql might) retires the old one too.
    IF old_id IS NOT NULL AND old_id IS DISTINCT FROM new_id THEN
        PERFORM pg_notify('gatehouse_changes', json_build_object('kind', TG_ARGV[0],
            'id', CASE WHEN octet_length(old_id) <= 1000 THEN old_id ELSE '' END)::text);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

-- TRUNCATE fires no row trigger: tell listeners the whole kind changed.
-- +goose StatementBegin
CREATE FUNCTION gatehouse_notify_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gatehouse_changes', json_build_object('kind', TG_ARGV[0], 'id', '')::text);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER clients_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_change('client', 'id');
CREATE TRIGGER clients_notify_truncate
    AFTER TRUNCATE ON clients
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_truncate('client');

CREATE TRIGGER signing_keys_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_change('signing_key', 'id');
CREATE TRIGGER signing_keys_notify_truncate
    AFTER TRUNCATE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_truncate('signing_key');

CREATE TRIGGER roles_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_change('role', 'name');
CREATE TRIGGER roles_notify_truncate
    AFTER TRUNCATE ON roles
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_truncate('role');
