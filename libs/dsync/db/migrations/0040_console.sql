-- The web console (docs/console.md): sign-in sessions, setup links for a customer's IT admin,
-- and the last use of each SCIM token (the setup page's "connection check").

-- A console session; only the SHA-256 of the cookie value is stored. tenant_id NULL is an
-- operator session; a set tenant_id is an IT admin's setup session, scoped to that tenant.
CREATE TABLE console_sessions (
    id_hash        bytea PRIMARY KEY,
    tenant_id      uuid REFERENCES tenants (id) ON DELETE CASCADE,
    setup_link_id  uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- A one-time, expiring, revocable link an operator hands to a tenant's IT admin.
CREATE TABLE setup_links (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX setup_links_tenant ON setup_links (tenant_id, created_at DESC);

-- The first and the latest SCIM request made with each token (written at most once every
-- few seconds per token by the gateway).
CREATE TABLE scim_token_usage (
    token_id        uuid PRIMARY KEY REFERENCES scim_tokens (id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL,
    first_used_at   timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL,
    last_method     text NOT NULL,
    last_path       text NOT NULL,
    last_status     integer NOT NULL
);
CREATE INDEX scim_token_usage_tenant ON scim_token_usage (tenant_id, last_used_at DESC);
