-- The lean pipeline: the fanout service keeps each tenant's webhook filters in memory to
-- skip events no endpoint wants without touching the database; this trigger tells it
-- (NOTIFY dsync_webhook_endpoints '<tenant id>') whenever a tenant's endpoints change,
-- whoever changes them.
CREATE FUNCTION dsync_webhook_endpoints_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dsync_webhook_endpoints',
                      COALESCE(NEW.tenant_id, OLD.tenant_id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER webhooks_endpoints_changed
    AFTER INSERT OR DELETE OR UPDATE OF events, tenant_id ON webhooks
    FOR EACH ROW EXECUTE FUNCTION dsync_webhook_endpoints_changed();

-- The directory writes a batch of user commands in ONE statement (no BEGIN/COMMIT round
-- trips): its last step calls this to abort the whole statement when an optimistic
-- check failed (a user changed since it was read, or an operation was applied before).
CREATE FUNCTION dsync_abort_unless(ok boolean, reason text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION 'dsync batch check failed: %', reason USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN true;
END
$$;
