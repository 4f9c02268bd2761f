"""PostgreSQL reads and writes of the delivery worker.

An endpoint's queue is owned by one worker at a time through a session-level advisory lock
held on the worker's own connection (endpoint_locks.py): workers in several fanout
processes never deliver the same queue concurrently, and a crashed worker's queues are
free the moment its connection dies (a delivery in flight at the crash may be sent twice;
receivers dedupe by event id). The queue is read strictly in (sequence, id) order.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from dsync.ledger import writes
from dsync_services.fanout.endpoint_locks import KEY_SQL, NAMESPACE

_QUEUED = "('pending', 'retrying')"


def _locked_by(pid: str, webhook_id: str) -> str:
    """SQL: the endpoint's lock is held by backend `pid`."""
    return ("EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
            f" AND l.classid = {NAMESPACE}::oid AND l.objsubid = 2"
            f" AND l.objid = {KEY_SQL.format(id=webhook_id)}::oid AND l.pid = {pid})")


@dataclass(frozen=True)
class Endpoint:
    id: UUID
    tenant_id: UUID
    url: str
    secrets: tuple[str, ...]
    """Newest first: the current secret, then the previous one during a rotation overlap."""


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: UUID
    event_type: str
    sequence: int
    event_time: datetime
    body: str
    attempts: int
    round_attempts: int
    operation_id: UUID | None
    due: bool


async def due_endpoints(pool: asyncpg.Pool, limit: int, busy: list[UUID]) -> list[UUID]:
    """Up to `limit` active endpoints whose queue head is due, longest-waiting first, leaving
    out `busy` ones and those whose lock another worker holds (candidates to `try_lock`).
    The lock table is read once per call, not once per endpoint."""
    rows = await pool.fetch(
        "WITH held AS MATERIALIZED ("
        "  SELECT l.objid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted"
        f"  AND l.classid = {NAMESPACE}::oid AND l.objsubid = 2"
        "), heads AS ("
        "  SELECT w.id, (SELECT d.next_attempt_at FROM webhook_deliveries d"
        f"   WHERE d.webhook_id = w.id AND d.status IN {_QUEUED}"
        "    ORDER BY d.sequence, d.id LIMIT 1) AS due_at"
        "  FROM webhooks w WHERE w.status = 'active' AND w.id <> ALL($2::uuid[])"
        ") SELECT h.id FROM heads h WHERE h.due_at <= now()"
        f"  AND NOT EXISTS (SELECT 1 FROM held WHERE held.objid = {KEY_SQL.format(id='h.id')}"
        "::oid) ORDER BY h.due_at LIMIT $1", limit, busy)
    return [r["id"] for r in rows]


async def seconds_to_next_retry(pool: asyncpg.Pool) -> float | None:
    """Seconds until the earliest retry still in the future of an active endpoint, if any."""
    value = await pool.fetchval(
        "SELECT EXTRACT(EPOCH FROM min(d.next_attempt_at) - now()) FROM webhook_deliveries d"
        " JOIN webhooks w ON w.id = d.webhook_id"
        " WHERE d.status = 'retrying' AND d.next_attempt_at > now() AND w.status = 'active'")
    return None if value is None else max(0.0, float(value))


async def next_batch(pool: asyncpg.Pool, webhook_id: UUID, lock_pid: int,
                      limit: int) -> tuple[Endpoint, list[Delivery]] | None:
    """Read the next `limit` queued deliveries in order, if the endpoint's lock is still
    held by backend `lock_pid` (the worker's lock connection).

    None when the lock is no longer ours or the endpoint was paused or deleted.
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT id, tenant_id, url, secret, CASE WHEN previous_secret_expires_at"
            " > now() THEN previous_secret END AS previous_secret FROM webhooks"
            f" WHERE id = $1 AND status = 'active' AND {_locked_by('$2::int', '$1::uuid')}",
            webhook_id, lock_pid)
        if row is None:
            return None
        rows = await conn.fetch(
            "SELECT id, event_id, event_type, sequence, event_time, body, attempts,"
            " round_attempts, operation_id, next_attempt_at <= now() AS due"
            f" FROM webhook_deliveries WHERE webhook_id = $1 AND status IN {_QUEUED}"
            " ORDER BY sequence, id LIMIT $2", webhook_id, limit)
    secrets = (row["secret"],) + ((row["previous_secret"],) if row["previous_secret"] else ())
    endpoint = Endpoint(row["id"], row["tenant_id"], row["url"], secrets)
    return endpoint, [Delivery(**dict(r)) for r in rows]


async def retry_now(pool: asyncpg.Pool, operation_id: UUID) -> bool:
    """Ledger retry of a `webhook_delivery` operation: its waiting (or dead) delivery is due
    now, with a fresh retry budget. False when there is no such delivery."""
    status = await pool.execute(
        "UPDATE webhook_deliveries SET status = 'pending', round_attempts = 0,"
        " next_attempt_at = now(), updated_at = now() WHERE operation_id = $1"
        " AND status IN ('retrying', 'dead')", operation_id)
    return not status.endswith(" 0")


async def record_attempt(pool: asyncpg.Pool, endpoint: Endpoint, delivery: Delivery, *,
                         started_at: datetime, outcome: str, status_code: int | None,
                         latency_ms: float, error: str | None, status: str, delay_s: float,
                         operation_status: str, detail: str) -> bool:
    """Log one attempt and move the delivery on, in one transaction.

    `status` is `delivered`, `retrying` (next attempt after `delay_s`) or `dead` (the endpoint
    is paused too). A failed attempt creates or updates the delivery's row in the operations
    ledger (kind `webhook_delivery`); a success after failures marks it `applied`.
    Returns False when the delivery no longer exists (endpoint deleted meanwhile).
    """
    failed = outcome != "ok"
    async with pool.acquire() as conn, conn.transaction():
        op_id = delivery.operation_id
        if op_id is None and failed:
            op_id = await writes.open_delivery_failure(
                conn, tenant_id=endpoint.tenant_id, path=_redacted(endpoint.url),
                webhook_id=endpoint.id,
                command={"webhook_id": str(endpoint.id), "event_id": str(delivery.event_id),
                         "event_type": delivery.event_type, "sequence": delivery.sequence})
        found = await conn.fetchval(
            "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1,"
            " round_attempts = round_attempts + 1, last_status_code = $3,"
            " last_error = COALESCE($4, last_error), operation_id = $5,"
            " next_attempt_at = now() + make_interval(secs => $6), updated_at = now(),"
            " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END"
            " WHERE id = $1 RETURNING id", delivery.id, status, status_code, error, op_id,
            delay_s)
        if found is None:
            return False
        await conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, started_at,"
            " latency_ms, status_code, outcome, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            delivery.id, endpoint.id, delivery.attempts + 1, started_at, latency_ms,
            status_code, outcome, error)
        if op_id is not None:
            await writes.record_delivery_attempt(
                conn, op_id, status=operation_status, reason_code=outcome if failed else None,
                retryable=operation_status != "applied" and outcome != "ssrf_refused",
                detail=detail)
        if status == "dead":
            await conn.execute(
                "UPDATE webhooks SET status = 'paused', paused_at = now(), updated_at = now(),"
                " paused_reason = $2 WHERE id = $1", endpoint.id,
                f"delivery of event {delivery.event_id} is dead: {error}")
    return True


async def record_successes(pool: asyncpg.Pool, webhook_id: UUID,
                           done: list[tuple[Delivery, datetime, int, float]]) -> None:
    """Mark deliveries `delivered` and log their (first-try-of-round, no ledger row)
    successful attempts, all in one transaction. `done` holds (delivery, started_at,
    status code, latency ms). Deliveries deleted meanwhile are skipped."""
    if not done:
        return
    ids = [d.id for d, _, _, _ in done]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE webhook_deliveries d SET status = 'delivered', attempts = attempts + 1,"
            " round_attempts = round_attempts + 1, last_status_code = u.code,"
            " next_attempt_at = now(), updated_at = now(), delivered_at = now()"
            " FROM unnest($1::bigint[], $2::int[]) AS u(id, code) WHERE d.id = u.id",
            ids, [code for _, _, code, _ in done])
        await conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, started_at,"
            " latency_ms, status_code, outcome)"
            " SELECT u.id, $2, u.attempt, u.started, u.latency, u.code, 'ok'"
            " FROM unnest($1::bigint[], $3::int[], $4::timestamptz[], $5::float8[],"
            " $6::int[]) AS u(id, attempt, started, latency, code)"
            " JOIN webhook_deliveries d ON d.id = u.id",
            ids, webhook_id, [d.attempts + 1 for d, _, _, _ in done],
            [at for _, at, _, _ in done], [ms for _, _, _, ms in done],
            [code for _, _, code, _ in done])


def _redacted(url: str) -> str:
    """The URL without query and fragment (they may hold receiver-side tokens)."""
    return url.split("?", 1)[0].split("#", 1)[0]
