"""Applies `role_recomputation` operations queued by the admin API when a mapping changes.

The gateway stores the mapping and an `accepted` operation (resource_id = group id) in one
transaction and NOTIFYs `dsync_access_work`. This worker claims operations one at a time
(`FOR UPDATE SKIP LOCKED`, so several instances share the queue), recomputes every user
holding the group, marks the operation `applied` and NOTIFYs `dsync_outcomes` (the waiting
PUT answers). A failed attempt is recorded (`failed`, retryable, attempts + 1) and retried
with exponential backoff; after `ledger.MAX_ATTEMPTS` it is `dead`. A poll covers a lost
LISTEN connection.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg

from dsync.db.pool import connect
from dsync_services.roles import ledger
from dsync_services.roles.metrics import RolesMetrics
from dsync_services.roles.recompute import recompute
from dsync_services.roles.targets import mapping_targets

log = logging.getLogger(__name__)
KIND = "role_recomputation"

_CLAIM = """
SELECT id, tenant_id, resource_id, attempts FROM operations
 WHERE kind = $1 AND (status = 'accepted' OR (status = 'failed' AND retryable
       AND completed_at < now() - make_interval(secs => least(60, 2 ^ attempts))))
 ORDER BY received_at LIMIT 1 FOR UPDATE SKIP LOCKED
"""


class MappingWorker:
    def __init__(self, pool: asyncpg.Pool, dsn: str, metrics: RolesMetrics,
                 poll_s: float = 1.0) -> None:
        self.pool = pool
        self.dsn = dsn
        self.metrics = metrics
        self.poll_s = poll_s
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop`; database errors are logged and retried."""
        listener: asyncpg.Connection | None = None
        while not stop.is_set():
            try:
                if listener is None or listener.is_closed():
                    listener = await connect(self.dsn)
                    await listener.add_listener(ledger.WORK_CHANNEL, lambda *_: self._wake.set())
                self._wake.clear()
                while await self.run_one():
                    pass
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("role recomputation worker error: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
        if listener is not None and not listener.is_closed():
            await listener.close()

    async def run_one(self) -> bool:
        """Claim and apply one operation; False when none is waiting."""
        async with self.pool.acquire() as conn, conn.transaction():
            op = await conn.fetchrow(_CLAIM, KIND)
            if op is None:
                return False
            started = time.perf_counter()
            try:
                async with conn.transaction():  # savepoint: a failure keeps the claim
                    changes = await recompute(conn, op["tenant_id"],
                                              mapping_targets(op["resource_id"]))
            except (asyncpg.InterfaceError, OSError):
                raise  # connection lost: the claim is released, the operation stays queued
            except Exception as exc:  # noqa: BLE001 - recorded in the ledger, retried later
                await self._failed(conn, op, exc)
                return True
            await conn.execute(
                "UPDATE operations SET status = 'applied', reason_code = NULL,"
                " retryable = false, attempts = attempts + 1, completed_at = now(),"
                " detail = $2 WHERE id = $1", op["id"], f"{len(changes)} users' roles changed")
            await conn.execute("SELECT pg_notify($1, $2)", ledger.OUTCOME_CHANNEL, str(op["id"]))
        self.metrics.recompute_seconds.labels("mapping").observe(time.perf_counter() - started)
        self.metrics.roles_changed.labels("mapping_changed").inc(len(changes))
        self.metrics.operations.labels("applied").inc()
        return True

    async def _failed(self, conn: asyncpg.Connection, op: asyncpg.Record,
                      exc: BaseException) -> None:
        log.warning("role recomputation %s failed: %s", op["id"], type(exc).__name__,
                    extra={"operation_id": str(op["id"]), "tenant_id": str(op["tenant_id"])})
        dead = op["attempts"] + 1 >= ledger.MAX_ATTEMPTS
        await conn.execute(
            "UPDATE operations SET status = $2, reason_code = 'internal', retryable = $3,"
            " attempts = attempts + 1, completed_at = now(), detail = $4 WHERE id = $1",
            op["id"], "dead" if dead else "failed", not dead,
            f"{type(exc).__name__}: {exc}"[:500])
        self.metrics.operations.labels("dead" if dead else "failed").inc()
