"""Applies queued asynchronous operations of one kind from the operations ledger.

An operation is queued as `accepted` by the admin API (a mapping change, NOTIFY
`dsync_access_work`) or by an operator's retry (NOTIFY `dsync_retry`). The worker claims
them one at a time (`FOR UPDATE SKIP LOCKED`, so instances share the queue), runs
`perform` in a savepoint, puts the events it emitted in the outbox, marks the operation
`applied` and NOTIFYs `dsync_outcomes` with its id (a waiting admin request answers). A
failed attempt is recorded (`failed`, retryable, attempts + 1) and retried with exponential
backoff (2^attempts s, at most 60 s); after `writes.MAX_ATTEMPTS` it is `dead`. The worker
wakes on the process's LISTEN connection, at each reconnect of it, when a failed attempt
is due again, and every `poll_s` as a fallback. Shared by the roles and sessions services.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg

from dsync.db import DbConnection
from dsync.ledger import writes
from dsync.messages.events import DraftEvent
from dsync.pipeline import channels
from dsync.pipeline.listener import NotifyListener
from dsync.pipeline.outbox import append_events

log = logging.getLogger(__name__)

Perform = Callable[[DbConnection, asyncpg.Record, list[DraftEvent]], Awaitable[str]]
"""Do the operation's work in the given transaction; add emitted events; return a detail."""

_CLAIM = """
SELECT id, tenant_id, method, resource_type, resource_id, attempts, received_at
  FROM operations
 WHERE kind = $1 AND (status = 'accepted' OR (status = 'failed' AND retryable
       AND completed_at < now() - make_interval(secs => least(60, 2 ^ attempts))))
 ORDER BY received_at LIMIT 1 FOR UPDATE SKIP LOCKED
"""


_NEXT_RETRY = """
SELECT extract(epoch FROM min(completed_at + make_interval(secs => least(60, 2 ^ attempts)))
               - now())
  FROM operations WHERE kind = $1 AND status = 'failed' AND retryable
"""


class LedgerWorker:
    def __init__(self, pool: asyncpg.Pool, listener: NotifyListener, kind: str,
                 perform: Perform, on_result: Callable[[str], None] = lambda _status: None,
                 poll_s: float = 10.0) -> None:
        self.pool = pool
        self.kind = kind
        self.perform = perform
        self.on_result = on_result
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        listener.subscribe(channels.ACCESS_WORK, self._notified)
        listener.subscribe(channels.RETRY, self._notified)
        listener.on_connect(self._wake.set)

    def _notified(self, payload: str) -> None:
        if payload.split(":", 1)[0] == self.kind:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop`; database errors are logged and retried."""
        while not stop.is_set():
            wait_s = self.poll_s
            try:
                self._wake.clear()
                while not stop.is_set() and await self.run_one():
                    pass
                due = await self.pool.fetchval(_NEXT_RETRY, self.kind)
                if due is not None:
                    wait_s = min(wait_s, max(float(due), 0.05))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("%s worker error: %s", self.kind, exc)
                wait_s = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_s)

    async def run_one(self) -> bool:
        """Claim and apply one operation; False when none is waiting."""
        async with self.pool.acquire() as conn, conn.transaction():
            op = await conn.fetchrow(_CLAIM, self.kind)
            if op is None:
                return False
            try:
                async with conn.transaction():  # savepoint: a failure keeps the claim
                    emit: list[DraftEvent] = []
                    detail = await self.perform(conn, op, emit)
                    await append_events(conn, op["tenant_id"], emit, datetime.now(UTC))
            except (asyncpg.InterfaceError, OSError):
                raise  # connection lost: the claim is released, the operation stays queued
            except Exception as exc:  # noqa: BLE001 - recorded in the ledger, retried later
                self.on_result(await self._failed(conn, op, exc))
                return True
            await writes.mark_applied(conn, op["id"], detail)
            await conn.execute("SELECT pg_notify($1, $2)", channels.OUTCOMES, str(op["id"]))
        self.on_result("applied")
        return True

    async def _failed(self, conn: DbConnection, op: asyncpg.Record,
                      exc: BaseException) -> str:
        log.warning("%s %s failed: %s", self.kind, op["id"], type(exc).__name__,
                    extra={"operation_id": str(op["id"]), "tenant_id": str(op["tenant_id"])})
        return str(await writes.mark_attempt_failed(conn, op["id"], op["attempts"], exc))
