"""Asynchronous side effects as rows of the operations ledger (docs/operations.md, docs/access.md).

Kinds: `role_recomputation` (roles service) and `session_revocation` (sessions service).
An effect caused by an event gets a deterministic id, uuid5(kind, event id), so the row
recorded when it failed is the row later marked applied, whoever retries it. `received_at`
is the event's time (when the SCIM answer went out), so `completed_at - received_at` is
the effect's lag. Shared by the roles and sessions services (candidate for libs/dsync).
"""
from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

import asyncpg

_NAMESPACE = UUID("6d1f0c3e-8f0b-4a43-9a55-0b8e6e2c7a10")
MAX_ATTEMPTS = 8


def effect_id(kind: str, event_id: str | UUID) -> UUID:
    """The operation id of the `kind` effect of one event."""
    return uuid5(_NAMESPACE, f"{kind}:{event_id}")


_APPLIED_MANY = """
INSERT INTO operations AS o (id, tenant_id, kind, method, path, resource_type, resource_id,
                             status, attempts, detail, received_at, completed_at)
SELECT i, $1, $2, 'EVENT', p, $3, r, 'applied', 1, d, rcv, clock_timestamp()
  FROM unnest($4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::timestamptz[])
       AS x(i, p, r, d, rcv)
ON CONFLICT (id) DO UPDATE SET status = 'applied', reason_code = NULL, retryable = false,
   attempts = o.attempts + 1, detail = EXCLUDED.detail, completed_at = clock_timestamp()
"""


async def record_applied_many(conn: asyncpg.Connection, *, tenant_id: UUID, kind: str,
                              resource_type: str,
                              rows: list[tuple[UUID, str, UUID | None, str, datetime]]) -> None:
    """`record_applied` for many effects of one tenant caused by events, in ONE statement
    (no NOTIFY: nobody waits for an event's effect). `rows`: (operation id, path,
    resource id, detail, received_at)."""
    if rows:
        await conn.execute(_APPLIED_MANY, tenant_id, kind, resource_type,
                           [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                           [r[3] for r in rows], [r[4] for r in rows])


async def record_failure(pool: asyncpg.Pool, *, op_id: UUID, tenant_id: UUID, kind: str,
                         path: str, resource_type: str, resource_id: UUID | None,
                         received_at: datetime, error: BaseException) -> None:
    """Record (in its own transaction) that an attempt failed: `failed`, retryable, with
    the attempt counted; `dead` after MAX_ATTEMPTS. Never raises on a database error."""
    detail = f"{type(error).__name__}: {error}"[:500]
    try:
        await pool.execute(
            "INSERT INTO operations (id, tenant_id, kind, method, path, resource_type,"
            " resource_id, status, reason_code, retryable, attempts, detail, received_at,"
            " completed_at) VALUES ($1, $2, $3, 'EVENT', $4, $5, $6, 'failed', 'internal',"
            " true, 1, $7, $8, now())"
            " ON CONFLICT (id) DO UPDATE SET reason_code = 'internal', detail = $7,"
            " attempts = operations.attempts + 1, completed_at = now(),"
            " status = CASE WHEN operations.attempts + 1 >= $9 THEN 'dead' ELSE 'failed' END,"
            " retryable = operations.attempts + 1 < $9",
            op_id, tenant_id, kind, path, resource_type, resource_id, detail, received_at,
            MAX_ATTEMPTS)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        pass
