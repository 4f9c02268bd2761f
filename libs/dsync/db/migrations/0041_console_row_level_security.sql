-- The console's tenant tables (0040) get the same row-level security as every other
-- tenant table (0028): a connection scoped to one tenant sees only that tenant's rows.
SELECT dsync_protect_tenant_table(name)
  FROM unnest(ARRAY['console_sessions', 'setup_links', 'scim_token_usage']) AS name;
