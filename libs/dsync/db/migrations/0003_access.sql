-- Access: group -> role mappings, the roles service's effective state per user, sessions.
-- The directory's tables (users, groups, group_members) stay the source of truth; these
-- tables hold what the roles and sessions services derive from it.

-- Operator-defined mapping, keyed by SCIM group id (a rename keeps it; deleting the group
-- drops it). Written by the gateway (admin API), read by the roles service.
CREATE TABLE group_roles (
    tenant_id   uuid NOT NULL,
    group_id    uuid NOT NULL,
    roles       text[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, group_id)
);

-- The roles service's effective state per user: the groups the user belongs to (directly
-- or through nested groups) and the union of their mapped roles ([] while inactive).
-- Only the roles service writes it; the gateway reads it (access, introspection).
CREATE TABLE user_access (
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    groups      uuid[] NOT NULL DEFAULT '{}',
    roles       text[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX user_access_groups ON user_access USING gin (groups);

-- Sessions: the token is never stored, only its SHA-256. `user_version` is the user's
-- `users.version` when the session was issued: a deactivation at version v revokes the
-- sessions issued before it (user_version < v), never one issued after a reactivation.
CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    token_hash      bytea NOT NULL UNIQUE,
    user_version    bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX sessions_live_by_user ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL;

-- Asynchronous work in the ledger (kind 'role_recomputation', 'session_revocation') is
-- picked up by status; SCIM writes are found by resource (e.g. "did this user exist?").
CREATE INDEX IF NOT EXISTS operations_pending_work ON operations (kind, received_at)
    WHERE status IN ('accepted', 'failed');
CREATE INDEX IF NOT EXISTS operations_tenant_resource ON operations (tenant_id, resource_id);

-- Sessions issued before a deactivation are dead from the deactivation's commit on, even if
-- the user is reactivated before the sessions service revoked them: the directory's update
-- of `users.active` to false records the user's new version as the floor, in the same
-- transaction, and introspection accepts only sessions with user_version >= floor.
CREATE TABLE user_session_floors (
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    min_version     bigint NOT NULL,
    deactivated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);

CREATE FUNCTION dsync_session_floor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_session_floors (tenant_id, user_id, min_version)
    VALUES (NEW.tenant_id, NEW.id, NEW.version)
    ON CONFLICT (tenant_id, user_id) DO UPDATE
       SET min_version = GREATEST(user_session_floors.min_version, EXCLUDED.min_version),
           deactivated_at = now();
    RETURN NULL;
END
$$;

CREATE TRIGGER users_session_floor AFTER UPDATE OF active ON users
    FOR EACH ROW WHEN (OLD.active AND NOT NEW.active) EXECUTE FUNCTION dsync_session_floor();
