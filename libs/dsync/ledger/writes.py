"""The only SQL that writes the `operations` table (the ledger).

Every function runs on the connection or pool it is given, inside the caller's
transaction when there is one; none commits on its own. Statuses and the transitions the
statements allow are those of `dsync.ledger.status`; each UPDATE guards its transition in
its WHERE clause, so a late or duplicate writer cannot move a final row.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync.ledger.status import OpKind, OpStatus
from dsync.pii import mask_pii

MAX_ATTEMPTS = 8
"""Attempts of a side effect before it is `dead`."""

_Conn = DbConnection | asyncpg.Pool

# --- SCIM writes: the gateway and the directory -------------------------------------------

_UNANSWERED = """
INSERT INTO operations (id, tenant_id, method, path, resource_type, resource_id, status,
                        reason_code, retryable, attempts, detail, command, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb, $13)
ON CONFLICT (id) DO NOTHING
"""


async def record_unanswered_write(pool: _Conn, *, op_id: UUID, tenant_id: UUID, method: str,
                                  path: str, resource_type: str, resource_id: UUID | None,
                                  command_json: str, received_at: datetime,
                                  not_published: bool) -> None:
    """The row of a write whose outcome the gateway could not report: `accepted` (the
    directory will finish it) or, when the command never reached Kafka, `failed` and
    retryable with reason `broker_unavailable`. A row that exists already is kept."""
    detail = ("The command could not be published to Kafka; retry the operation"
              if not_published else None)
    await pool.execute(
        _UNANSWERED, op_id, tenant_id, method, path, resource_type, resource_id,
        OpStatus.FAILED if not_published else OpStatus.ACCEPTED,
        "broker_unavailable" if not_published else None, not_published,
        1 if not_published else 0, detail, command_json, received_at)


async def record_gateway_rejection(pool: _Conn, *, op_id: UUID, tenant_id: UUID, method: str,
                                   path: str, resource_type: str, reason_code: str,
                                   detail: str) -> None:
    """The row of a write the gateway itself rejected (bad input): born `rejected`."""
    await pool.execute(
        "INSERT INTO operations (id, tenant_id, method, path, resource_type, status,"
        " reason_code, detail, completed_at) VALUES ($1, $2, $3, $4, $5, 'rejected', $6,"
        " $7, now())", op_id, tenant_id, method, path, resource_type, reason_code,
        mask_pii(detail[:1000]))


async def lock_write(conn: DbConnection, op_id: UUID) -> str | None:
    """The status of a write's row, row-locked; None when no row exists yet."""
    status: str | None = await conn.fetchval(
        "SELECT status FROM operations WHERE id = $1 FOR UPDATE", op_id)
    return status


async def record_write(conn: DbConnection, *, op_id: UUID, tenant_id: UUID, method: str,
                       path: str, resource_type: str | None, command: dict[str, Any],
                       received_at: datetime) -> None:
    """Insert an `accepted` row for a write the directory is about to apply."""
    await conn.execute(
        "INSERT INTO operations (id, tenant_id, method, path, resource_type, status, command,"
        " received_at) VALUES ($1, $2, $3, $4, $5, 'accepted', $6, $7)"
        " ON CONFLICT (id) DO NOTHING",
        op_id, tenant_id, method, path, resource_type, command, received_at)


async def finish_write(conn: DbConnection, *, op_id: UUID, status: str,
                       resource_id: UUID | None, reason_code: str | None, detail: str | None,
                       response: dict[str, Any]) -> None:
    """`applied` or `rejected`, with the SCIM response the gateway returns (the row was
    locked by `lock_write` in this transaction and is not final)."""
    await conn.execute(
        "UPDATE operations SET status = $2, resource_id = COALESCE($3, resource_id),"
        " reason_code = $4, detail = $5, response = $6, retryable = false,"
        " attempts = attempts + 1, completed_at = now() WHERE id = $1"
        " AND status NOT IN ('applied', 'rejected')",
        op_id, status, resource_id, reason_code, mask_pii(detail), response)


def finish_user_writes_cte(first: int) -> str:
    """The `ops` step of the directory's one-statement user batch: upsert finished user
    writes from 11 parallel arrays starting at parameter `$first` (id, tenant, method,
    path, resource id, status, reason, detail, command, response, received_at). A row
    already final is not touched and not RETURNed, so the caller can abort on a count."""
    p = [f"${first + i}" for i in range(11)]
    return f"""
    INSERT INTO operations AS o (id, tenant_id, method, path, resource_type, resource_id,
                                 status, reason_code, retryable, attempts, detail, command,
                                 response, received_at, completed_at)
    SELECT i, t, mt, p, 'User', r, s, rc, false, 1, dt, cmd::jsonb, resp::jsonb, rcv, now()
      FROM unnest({p[0]}::uuid[], {p[1]}::uuid[], {p[2]}::text[], {p[3]}::text[],
                  {p[4]}::uuid[], {p[5]}::text[], {p[6]}::text[], {p[7]}::text[],
                  {p[8]}::text[], {p[9]}::text[], {p[10]}::timestamptz[])
           AS x(i, t, mt, p, r, s, rc, dt, cmd, resp, rcv)
    ON CONFLICT (id) DO UPDATE
       SET status = EXCLUDED.status, resource_id = COALESCE(EXCLUDED.resource_id, o.resource_id),
           reason_code = EXCLUDED.reason_code, detail = EXCLUDED.detail,
           response = EXCLUDED.response, retryable = false, attempts = o.attempts + 1,
           completed_at = now()
     WHERE o.status NOT IN ('applied', 'rejected')
    RETURNING 1"""


async def mark_stale_writes(pool: _Conn, older_than_s: float) -> int:
    """`accepted` writes older than `older_than_s` were lost (broker outage or restart):
    `failed`, retryable, reason `not_delivered`. Returns how many."""
    rows = await pool.fetch(
        "UPDATE operations SET status = 'failed', reason_code = 'not_delivered',"
        " retryable = true, completed_at = now(), detail = 'The command was not applied"
        " within ' || $1::int || ' s (lost in a broker outage or restart); the client got"
        " a 503 and may retry, or retry this operation' WHERE kind = 'scim_write'"
        " AND status = 'accepted' AND received_at < now() - make_interval(secs => $1)"
        " RETURNING id", older_than_s)
    return len(rows)


async def delete_finished(pool: _Conn, older_than_s: float) -> int:
    """Retention: remove final rows completed more than `older_than_s` ago."""
    status = await pool.execute(
        "DELETE FROM operations WHERE status IN ('applied', 'rejected', 'dead')"
        " AND completed_at < now() - make_interval(secs => $1)", older_than_s)
    return int(status.split()[-1])


# --- Operator retries ---------------------------------------------------------------------

async def requeue_for_retry(conn: DbConnection, op_id: UUID) -> None:
    """`failed` -> `accepted`: an operator asked for another attempt."""
    await conn.execute("UPDATE operations SET status = 'accepted', completed_at = NULL"
                       " WHERE id = $1 AND status = 'failed' AND retryable", op_id)


# --- Queued side effects (role recomputation; retried effects) ----------------------------

async def queue_role_recomputation(conn: DbConnection, *, op_id: UUID, tenant_id: UUID,
                                   method: str, path: str, group_id: UUID,
                                   command_json: str) -> None:
    """An `accepted` role recomputation for the roles service's worker to apply."""
    await conn.execute(
        "INSERT INTO operations (id, tenant_id, kind, method, path, resource_type, resource_id,"
        " status, command) VALUES ($1, $2, $3, $4, $5, 'Group', $6, 'accepted',"
        " $7::text::jsonb)", op_id, tenant_id, OpKind.ROLE_RECOMPUTATION, method, path,
        group_id, command_json)


async def mark_applied(conn: DbConnection, op_id: UUID, detail: str) -> None:
    """A claimed queued operation succeeded."""
    await conn.execute(
        "UPDATE operations SET status = 'applied', reason_code = NULL,"
        " retryable = false, attempts = attempts + 1, completed_at = clock_timestamp(),"
        " detail = $2 WHERE id = $1 AND status IN ('accepted', 'failed')", op_id, detail)


async def mark_attempt_failed(conn: DbConnection, op_id: UUID, attempts_before: int,
                              error: BaseException) -> OpStatus:
    """A claimed queued operation failed: `failed` and retryable, or `dead` once it has had
    MAX_ATTEMPTS. Returns the new status."""
    dead = attempts_before + 1 >= MAX_ATTEMPTS
    status = OpStatus.DEAD if dead else OpStatus.FAILED
    await conn.execute(
        "UPDATE operations SET status = $2, reason_code = 'internal', retryable = $3,"
        " attempts = attempts + 1, completed_at = now(), detail = $4 WHERE id = $1",
        op_id, status, not dead, f"{type(error).__name__}: {error}"[:500])
    return status


# --- Side effects of events (roles, sessions) ---------------------------------------------

_EFFECTS_APPLIED = """
INSERT INTO operations AS o (id, tenant_id, kind, method, path, resource_type, resource_id,
                             status, attempts, detail, received_at, completed_at)
SELECT i, $1, $2, 'EVENT', p, $3, r, 'applied', 1, d, rcv, clock_timestamp()
  FROM unnest($4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::timestamptz[])
       AS x(i, p, r, d, rcv)
ON CONFLICT (id) DO UPDATE SET status = 'applied', reason_code = NULL, retryable = false,
   attempts = o.attempts + 1, detail = EXCLUDED.detail, completed_at = clock_timestamp()
"""


async def record_effects_applied(conn: DbConnection, *, tenant_id: UUID, kind: str,
                                 resource_type: str,
                                 rows: list[tuple[UUID, str, UUID | None, str, datetime]]
                                 ) -> None:
    """Many effects of one tenant's events applied, in ONE statement. `rows`: (operation
    id, path, resource id, detail, received_at)."""
    if rows:
        await conn.execute(_EFFECTS_APPLIED, tenant_id, kind, resource_type,
                           [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                           [r[3] for r in rows], [r[4] for r in rows])


async def record_effect_failure(pool: asyncpg.Pool, *, op_id: UUID, tenant_id: UUID,
                                kind: str, path: str, resource_type: str,
                                resource_id: UUID | None, received_at: datetime,
                                error: BaseException) -> None:
    """Record (in its own transaction) that an effect's attempt failed: `failed`, retryable,
    with the attempt counted; `dead` after MAX_ATTEMPTS. Never raises on a database error."""
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


# --- Webhook deliveries (fanout) ----------------------------------------------------------

async def open_delivery_failure(conn: DbConnection, *, tenant_id: UUID, path: str,
                                webhook_id: UUID, command: dict[str, Any]) -> UUID:
    """The row of a webhook delivery's first failed attempt; returns its id."""
    op_id: UUID = await conn.fetchval(
        "INSERT INTO operations (id, tenant_id, kind, method, path, resource_type,"
        " resource_id, status, command) VALUES (gen_random_uuid(), $1, $2, 'POST', $3,"
        " 'Webhook', $4, 'failed', $5) RETURNING id",
        tenant_id, OpKind.WEBHOOK_DELIVERY, path, webhook_id, command)
    return op_id


async def record_delivery_attempt(conn: DbConnection, op_id: UUID, *, status: str,
                                  reason_code: str | None, retryable: bool,
                                  detail: str) -> None:
    """One more attempt of a delivery that failed before: `failed` (retrying; no
    completion time), `applied` (delivered at last) or `dead`."""
    await conn.execute(
        "UPDATE operations SET status = $2, reason_code = COALESCE($3, reason_code),"
        " retryable = $4, attempts = attempts + 1, detail = $5,"
        " completed_at = CASE WHEN $2 = 'failed' THEN NULL ELSE now() END"
        " WHERE id = $1", op_id, status, reason_code, retryable, detail)


# --- tenant deletion ------------------------------------------------------------------------

async def delete_tenant_operations(conn: DbConnection, tenant_id: UUID) -> int:
    """Remove every ledger row of a tenant that is being deleted (in the caller's
    transaction). Returns how many rows went."""
    done: str = await conn.execute("DELETE FROM operations WHERE tenant_id = $1", tenant_id)
    return int(done.split()[-1])
