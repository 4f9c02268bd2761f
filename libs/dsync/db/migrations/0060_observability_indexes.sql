-- Indexes for the sampled gauges (dsync_operations_failing, dsync_webhook_deliveries{dead}):
-- the samplers count only these rows, never scan the whole ledger or delivery log.
CREATE INDEX IF NOT EXISTS operations_failing ON operations (status, reason_code)
    WHERE status IN ('failed', 'dead');
CREATE INDEX IF NOT EXISTS webhook_deliveries_dead ON webhook_deliveries (status)
    WHERE status = 'dead';
