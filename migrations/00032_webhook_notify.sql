-- Webhook subscriptions announce their changes on the change feed, as
-- clients and roles do: every instance caches whether any subscription is
-- enabled, so that an audited write with none costs no outbox statement,
-- and must hear at once when one is created elsewhere.

-- +goose Up
CREATE TRIGGER webhook_subscriptions_notify_change
    AFTER INSERT OR UPDATE OR DELETE ON webhook_subscriptions
    FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_change('webhook', 'id');
CREATE TRIGGER webhook_subscriptions_notify_truncate
    AFTER TRUNCATE ON webhook_subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_truncate('webhook');
