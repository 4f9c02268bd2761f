-- Webhook endpoints per tenant, their delivery queues (one row per event x endpoint) and
-- the log of every HTTP attempt. Written by the fanout service (deliveries, attempts) and
-- the gateway's admin API (endpoints, resume, redeliver).

CREATE TABLE webhooks (
    id                          uuid PRIMARY KEY,
    tenant_id                   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url                         text NOT NULL,
    secret                      text NOT NULL,       -- needed to sign; never returned by GET
    previous_secret             text,                -- still signed with until it expires
    previous_secret_expires_at  timestamptz,
    events                      text[],              -- type patterns; NULL = every event
    status                      text NOT NULL DEFAULT 'active'
                                CHECK (status IN ('active', 'paused')),
    paused_reason               text,
    paused_at                   timestamptz,
    lease_owner                 text,                -- the delivery worker holding this queue
    lease_until                 timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, created_at);
CREATE INDEX webhooks_active ON webhooks (id) WHERE status = 'active';

-- One endpoint's queue: delivered strictly in (sequence, id) order. `attempts` counts every
-- attempt ever made; `round_attempts` those since it was last (re)queued (the retry budget).
CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    sequence         bigint NOT NULL,
    event_time       timestamptz NOT NULL,
    body             text NOT NULL,                  -- the CloudEvent JSON, exactly as POSTed
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'retrying', 'delivered', 'dead', 'skipped')),
    attempts         integer NOT NULL DEFAULT 0,
    round_attempts   integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error       text,
    operation_id     uuid,                            -- ledger row, created at the first failure
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_queue ON webhook_deliveries (webhook_id, sequence, id)
    WHERE status IN ('pending', 'retrying');
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, sequence DESC, id DESC);
CREATE INDEX webhook_deliveries_time ON webhook_deliveries (webhook_id, event_time);
CREATE INDEX webhook_deliveries_retrying ON webhook_deliveries (next_attempt_at)
    WHERE status = 'retrying';
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (updated_at)
    WHERE status IN ('delivered', 'skipped');

CREATE TABLE webhook_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    webhook_id   uuid NOT NULL,
    attempt      integer NOT NULL,
    started_at   timestamptz NOT NULL,
    latency_ms   double precision NOT NULL,
    status_code  integer,
    outcome      text NOT NULL,                      -- ok | http_status | timeout | ...
    error        text
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, id DESC);
CREATE INDEX webhook_attempts_started ON webhook_attempts (started_at);
