-- Tenants, their SCIM tokens (hashes only), directory state, the operations ledger,
-- per-tenant event sequences and the transactional outbox.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scim_tokens (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,          -- SHA-256 of the token; the token is never stored
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX scim_tokens_tenant ON scim_tokens (tenant_id);

CREATE TABLE users (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    user_name     text NOT NULL,
    external_id   text,
    active        boolean NOT NULL DEFAULT true,
    display_name  text,
    doc           jsonb NOT NULL,                -- SCIM attributes as stored (no id, meta, groups)
    version       bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_tenant_user_name ON users (tenant_id, lower(user_name));
CREATE INDEX users_tenant_external_id ON users (tenant_id, external_id);

CREATE TABLE groups (
    tenant_id     uuid NOT NULL,
    id            uuid NOT NULL,
    display_name  text NOT NULL,
    external_id   text,
    doc           jsonb NOT NULL,                -- SCIM attributes as stored (no id, meta, members)
    version       bigint NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX groups_tenant_display_name ON groups (tenant_id, lower(display_name));
CREATE INDEX groups_tenant_external_id ON groups (tenant_id, external_id);

CREATE TABLE group_members (
    tenant_id    uuid NOT NULL,
    group_id     uuid NOT NULL,
    member_id    uuid NOT NULL,
    member_type  text NOT NULL CHECK (member_type IN ('User', 'Group')),
    PRIMARY KEY (tenant_id, group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (tenant_id, member_id);

-- The operations ledger: one row per SCIM write (id = command id) and per asynchronous
-- side effect. `response` holds the SCIM answer the gateway returns for a write.
CREATE TABLE operations (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL,
    kind           text NOT NULL DEFAULT 'scim_write',
    method         text NOT NULL,
    path           text NOT NULL,
    resource_type  text,
    resource_id    uuid,
    status         text NOT NULL CHECK (status IN ('accepted', 'applied', 'rejected', 'failed', 'dead')),
    reason_code    text,
    retryable      boolean NOT NULL DEFAULT false,
    attempts       integer NOT NULL DEFAULT 0,
    detail         text,
    command        jsonb,
    response       jsonb,
    received_at    timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz
);
CREATE INDEX operations_tenant_received ON operations (tenant_id, received_at DESC);
CREATE INDEX operations_tenant_status ON operations (tenant_id, status, received_at DESC);

CREATE TABLE tenant_event_sequences (
    tenant_id      uuid PRIMARY KEY,
    last_sequence  bigint NOT NULL
);

CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    sequence      bigint NOT NULL,
    event         jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    UNIQUE (tenant_id, sequence)
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Consumers record the events they have applied (exactly-once effects on redelivery).
CREATE TABLE consumed_events (
    consumer    text NOT NULL,
    event_id    uuid NOT NULL,
    consumed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Liveness and partition assignment reported by each consumer process (for /healthz).
CREATE TABLE service_heartbeats (
    service      text NOT NULL,
    instance     text NOT NULL,
    topic        text NOT NULL,
    partitions   integer[] NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, instance)
);
