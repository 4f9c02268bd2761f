-- How many users and groups each tenant stores, kept by statement-level triggers (one
-- upsert per statement, not per row), so the gateway checks a quota with one key lookup
-- instead of counting rows (docs/limits.md, "Quotas").
CREATE TABLE tenant_usage (
    tenant_id  uuid PRIMARY KEY,
    users      bigint NOT NULL DEFAULT 0,
    groups     bigint NOT NULL DEFAULT 0
);

INSERT INTO tenant_usage (tenant_id, users, groups)
SELECT tenant_id, sum(u), sum(g) FROM (
    SELECT tenant_id, count(*) AS u, 0 AS g FROM users GROUP BY tenant_id
    UNION ALL
    SELECT tenant_id, 0, count(*) FROM groups GROUP BY tenant_id) AS c
GROUP BY tenant_id;

CREATE FUNCTION tenant_usage_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        INSERT INTO tenant_usage AS t (tenant_id, users)
        SELECT tenant_id, delta * count(*) FROM changed GROUP BY tenant_id ORDER BY tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET users = t.users + EXCLUDED.users;
    ELSE
        INSERT INTO tenant_usage AS t (tenant_id, groups)
        SELECT tenant_id, delta * count(*) FROM changed GROUP BY tenant_id ORDER BY tenant_id
        ON CONFLICT (tenant_id) DO UPDATE SET groups = t.groups + EXCLUDED.groups;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_counted_in AFTER INSERT ON users REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_usage_count();
CREATE TRIGGER users_counted_out AFTER DELETE ON users REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_usage_count();
CREATE TRIGGER groups_counted_in AFTER INSERT ON groups REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_usage_count();
CREATE TRIGGER groups_counted_out AFTER DELETE ON groups REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION tenant_usage_count();
