-- Tenant lifecycle: a tenant is `active` or `disabled` (SCIM answers 403, data kept).
-- Deleting a tenant removes its rows from every table with a tenant_id column
-- (dsync.tenants.purge lists them; a test fails when a table is missing there).

ALTER TABLE tenants
    ADD COLUMN status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    ADD COLUMN status_changed_at timestamptz;

CREATE INDEX tenants_created ON tenants (created_at, id);
