-- Resource-server credentials for POST /auth/v1/introspect (docs/access.md): a client id
-- and a secret (only its SHA-256 stored), for one tenant (tenant_id) or all (NULL).
CREATE TABLE introspection_clients (
    id           uuid PRIMARY KEY,
    name         text NOT NULL,
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    secret_hash  bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX introspection_clients_tenant ON introspection_clients (tenant_id);
