-- Row-level security on every tenant table (docs/limits.md, "Tenant isolation in the
-- database"). The services run as the role `dsync_app` (SET ROLE on each pooled
-- connection); the owner role, which bypasses these policies, is used for migrations.
-- A row is visible to dsync_app only when the transaction's `dsync.tenant_id` setting is
-- its tenant, or '*' (the services' cross-tenant work: consumers, relay, housekeeping).
-- Unset: nothing is visible.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dsync_app') THEN
        CREATE ROLE dsync_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
    IF NOT pg_has_role(current_user, 'dsync_app', 'MEMBER') THEN
        EXECUTE format('GRANT dsync_app TO %I', current_user);
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO dsync_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dsync_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO dsync_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dsync_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO dsync_app;

-- Put a table with a `tenant_id` column under the policy. Later migrations that add a
-- tenant table call it: SELECT dsync_protect_tenant_table('new_table');
CREATE FUNCTION dsync_protect_tenant_table(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', name);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %I TO dsync_app'
        ' USING (current_setting(''dsync.tenant_id'', true) = ''*'''
        '        OR tenant_id::text = current_setting(''dsync.tenant_id'', true))'
        ' WITH CHECK (current_setting(''dsync.tenant_id'', true) = ''*'''
        '        OR tenant_id::text = current_setting(''dsync.tenant_id'', true))', name);
END $$;

SELECT dsync_protect_tenant_table(c.table_name::text)
  FROM information_schema.columns c
  JOIN information_schema.tables t
    ON t.table_schema = c.table_schema AND t.table_name = c.table_name
 WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id'
   AND t.table_type = 'BASE TABLE';

-- The directory's read views check the policies as the caller, not as their owner, where
-- the server can (PostgreSQL ≥ 15); on 14 they read with the owner's rights.
DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 150000 THEN
        ALTER VIEW directory_users SET (security_invoker = true);
        ALTER VIEW directory_groups SET (security_invoker = true);
        ALTER VIEW directory_memberships SET (security_invoker = true);
    END IF;
END $$;
