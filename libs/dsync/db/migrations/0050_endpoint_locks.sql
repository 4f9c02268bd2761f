-- Endpoint queues are owned through session-level advisory locks on the delivery worker's
-- own connection (services/fanout/endpoint_locks.py), which die with the owning process;
-- the timed lease columns are no longer read or written.
ALTER TABLE webhooks DROP COLUMN lease_owner, DROP COLUMN lease_until;
