-- Per-tenant overrides of the gateway's limits (docs/limits.md, "Rate limits and quotas").
-- A NULL column means "the deployment's default" (DSYNC_* settings); a row exists only for
-- tenants an operator configured with PUT /admin/v1/tenants/{tid}/limits.
CREATE TABLE tenant_limits (
    tenant_id        uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    tier             text NOT NULL DEFAULT 'custom',   -- metrics label (bounded vocabulary)
    rate_per_s       double precision CHECK (rate_per_s >= 0),
    burst            integer CHECK (burst >= 1),
    max_concurrency  integer CHECK (max_concurrency >= 0),
    max_searches     integer CHECK (max_searches >= 0),
    max_users        integer CHECK (max_users >= 0),
    max_groups       integer CHECK (max_groups >= 0),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
