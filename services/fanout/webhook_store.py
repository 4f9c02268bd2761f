"""Admin reads and writes of endpoints and their queues (used by the gateway's admin API).

Every function is scoped to one tenant: an endpoint of another tenant is "not found".
Changes that make deliveries due (resume, redeliver) NOTIFY the delivery workers in the
same transaction, so they act at commit.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from dsync.db import DbConnection
from dsync.pipeline import channels

_COLUMNS = ("id, tenant_id, url, events, status, paused_reason, paused_at, created_at,"
            " updated_at, previous_secret_expires_at")
_REQUEUE = ("status = 'pending', round_attempts = 0, next_attempt_at = now(),"
            " updated_at = now(), delivered_at = NULL")


class TooManyWebhooks(Exception):  # noqa: N818
    """The tenant already has the maximum number of endpoints."""


async def create(pool: asyncpg.Pool, tenant_id: UUID, url: str, secret: str,
                 events: list[str] | None, max_per_tenant: int) -> asyncpg.Record:
    """Insert an active endpoint. Raises TooManyWebhooks at the per-tenant limit."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE", tenant_id)
        count = await conn.fetchval("SELECT count(*) FROM webhooks WHERE tenant_id = $1",
                                    tenant_id)
        if count >= max_per_tenant:
            raise TooManyWebhooks(f"a tenant may have at most {max_per_tenant} webhooks")
        row = await conn.fetchrow(
            f"INSERT INTO webhooks (id, tenant_id, url, secret, events) VALUES"
            f" ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}", uuid4(), tenant_id, url, secret,
            events)
        assert row is not None  # INSERT ... RETURNING returns the row
        return row


async def listing(pool: asyncpg.Pool, tenant_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(f"SELECT {_COLUMNS} FROM webhooks WHERE tenant_id = $1"
                            " ORDER BY created_at, id", tenant_id)


async def get(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID) -> asyncpg.Record | None:
    """The endpoint with `queue` counts (`pending`, `retrying`, `dead`), or None."""
    return await pool.fetchrow(
        f"SELECT {_COLUMNS}, (SELECT json_build_object("
        " 'pending', count(*) FILTER (WHERE d.status = 'pending'),"
        " 'retrying', count(*) FILTER (WHERE d.status = 'retrying'),"
        " 'dead', count(*) FILTER (WHERE d.status = 'dead')) FROM webhook_deliveries d"
        " WHERE d.webhook_id = w.id) AS queue FROM webhooks w"
        " WHERE w.tenant_id = $1 AND w.id = $2", tenant_id, webhook_id)


async def delete(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID) -> bool:
    """Delete the endpoint with its queue and log; False when not found."""
    return await pool.fetchval("DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2"
                               " RETURNING true", tenant_id, webhook_id) is not None


async def set_paused(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID,
                     reason: str) -> bool:
    """Pause by hand (deliveries keep queueing). False when not found."""
    return await pool.fetchval(
        "UPDATE webhooks SET status = 'paused', paused_reason = $3,"
        " paused_at = COALESCE(paused_at, now()), updated_at = now()"
        " WHERE tenant_id = $1 AND id = $2 RETURNING true",
        tenant_id, webhook_id, reason) is not None


async def resume(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID, *,
                 skip_dead: bool) -> int | None:
    """Activate the endpoint; its dead deliveries are queued again (or `skipped`), so
    everything it missed goes out in order. Returns how many were requeued; None if absent."""
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(
            "UPDATE webhooks SET status = 'active', paused_reason = NULL, paused_at = NULL,"
            " updated_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING true",
            tenant_id, webhook_id)
        if found is None:
            return None
        change = "status = 'skipped', updated_at = now()" if skip_dead else _REQUEUE
        status = await conn.execute(f"UPDATE webhook_deliveries SET {change}"  # noqa: S608
                                    " WHERE webhook_id = $1 AND status = 'dead'", webhook_id)
        await conn.execute("SELECT pg_notify($1, '')", channels.WEBHOOKS)
    return 0 if skip_dead else int(status.rsplit(" ", 1)[-1])


async def rotate_secret(pool: asyncpg.Pool, tenant_id: UUID, webhook_id: UUID,
                        new_secret: str, overlap_s: float) -> asyncpg.Record | None:
    """Sign with `new_secret` from now on, and also with the current one for `overlap_s`."""
    return await pool.fetchrow(
        "UPDATE webhooks SET previous_secret = CASE WHEN $4 > 0 THEN secret END,"
        " previous_secret_expires_at = CASE WHEN $4 > 0"
        "  THEN now() + make_interval(secs => $4) END,"
        f" secret = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2"
        f" RETURNING {_COLUMNS}", tenant_id, webhook_id, new_secret, overlap_s)


async def redeliver(pool: asyncpg.Pool, webhook_id: UUID, *, event_id: UUID | None = None,
                    since: datetime | None = None, until: datetime | None = None) -> int:
    """Queue again the endpoint's deliveries of one event, or of events whose time is in
    [since, until]. They go out in sequence order with a fresh retry budget (after
    `resume` when the endpoint is paused). Returns how many were queued."""
    async with pool.acquire() as conn, conn.transaction():
        if event_id is not None:
            status = await conn.execute(f"UPDATE webhook_deliveries SET {_REQUEUE}"  # noqa: S608
                                        " WHERE webhook_id = $1 AND event_id = $2"
                                        " AND status <> 'pending'", webhook_id, event_id)
        else:
            status = await conn.execute(f"UPDATE webhook_deliveries SET {_REQUEUE}"  # noqa: S608
                                        " WHERE webhook_id = $1 AND event_time >= $2"
                                        " AND event_time <= $3 AND status <> 'pending'",
                                        webhook_id, since, until)
        await conn.execute("SELECT pg_notify($1, '')", channels.WEBHOOKS)
    return int(status.rsplit(" ", 1)[-1])


async def deliveries(pool: asyncpg.Pool, webhook_id: UUID, *, status: str | None,
                     event_id: UUID | None, limit: int) -> list[dict[str, Any]]:
    """Newest first (by sequence), each with its attempt log in attempt order."""
    rows = await pool.fetch(
        "SELECT d.*, coalesce((SELECT json_agg(json_build_object('attempt', a.attempt,"
        " 'started_at', a.started_at, 'status_code', a.status_code, 'latency_ms',"
        " a.latency_ms, 'outcome', a.outcome, 'error', a.error) ORDER BY a.attempt)"
        " FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS log"
        " FROM webhook_deliveries d WHERE d.webhook_id = $1"
        " AND ($2::text IS NULL OR d.status = $2) AND ($3::uuid IS NULL OR d.event_id = $3)"
        " ORDER BY d.sequence DESC, d.id DESC LIMIT $4", webhook_id, status, event_id, limit)
    return [dict(r) for r in rows]


async def attempts(pool: asyncpg.Pool, webhook_id: UUID, limit: int) -> list[asyncpg.Record]:
    """The endpoint's attempt log, newest first."""
    return await pool.fetch(
        "SELECT a.*, d.event_id, d.event_type, d.sequence FROM webhook_attempts a"
        " JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE a.webhook_id = $1"
        " ORDER BY a.id DESC LIMIT $2", webhook_id, limit)


async def requeue_operation(conn: DbConnection, tenant_id: UUID, op_id: UUID) -> bool:
    """Retry of a `webhook_delivery` ledger row: queue its delivery again. False when the
    operation is not a retryable delivery of this tenant (or the delivery is gone)."""
    status = await conn.execute(
        f"UPDATE webhook_deliveries d SET {_REQUEUE} FROM operations o"  # noqa: S608
        " WHERE o.id = $2 AND o.tenant_id = $1 AND o.kind = 'webhook_delivery'"
        " AND o.retryable AND d.operation_id = o.id AND d.status IN ('dead', 'retrying')",
        tenant_id, op_id)
    if status.endswith(" 0"):
        return False
    await conn.execute("SELECT pg_notify($1, '')", channels.WEBHOOKS)
    return True
