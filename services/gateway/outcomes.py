"""Waiting for the directory's outcome of a command, woken by PostgreSQL LISTEN/NOTIFY.

The directory notifies `dsync_outcomes` with the operation id in the transaction that
applied it, so the wake-up comes on commit, with no second Kafka hop (docs/pipeline.md).
A poll of the ledger every `poll_s` covers a lost LISTEN connection.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from dsync.db.pool import connect
from dsync.pipeline import channels

log = logging.getLogger(__name__)


class OutcomeWaiter:
    def __init__(self, pool: asyncpg.Pool, dsn: str, poll_s: float = 1.0) -> None:
        self.pool = pool
        self.dsn = dsn
        self.poll_s = poll_s
        self._pending: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._listener: asyncpg.Connection | None = None
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()
        self._poller = asyncio.create_task(self._poll())

    async def _connect(self) -> None:
        conn = await connect(self.dsn)
        await conn.add_listener(channels.OUTCOMES, self._on_notify)
        self._listener = conn

    async def stop(self) -> None:
        if self._poller:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        """Payload: `[[op id, response | null], ...]` from the directory, or one bare id
        from the poll. Only ops this gateway waits for are decoded further."""
        payload = str(payload)  # asyncpg passes NOTIFY payloads as str
        if not payload.startswith("["):
            self._resolve(payload, None)
            return
        for op_id, response in orjson.loads(payload):
            self._resolve(op_id, response)

    def _resolve(self, op_id: str, response: dict[str, Any] | None) -> None:
        fut = self._pending.get(op_id)
        if fut is not None and not fut.done():
            fut.set_result(response)

    def register(self, op_id: UUID) -> asyncio.Future[dict[str, Any] | None]:
        """Call before publishing the command, so a fast outcome is not missed. The future
        resolves to the stored response when the notification carried it, else None."""
        fut: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._pending[str(op_id)] = fut
        return fut

    def forget(self, op_id: UUID) -> None:
        self._pending.pop(str(op_id), None)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                if self._listener is None or self._listener.is_closed():
                    await self._connect()
                if not self._pending:
                    continue
                ids = [UUID(k) for k in list(self._pending)]
                rows = await self.pool.fetch(
                    "SELECT id FROM operations WHERE id = ANY($1)"
                    " AND status IN ('applied', 'rejected')", ids)
                for r in rows:
                    self._resolve(str(r["id"]), None)
            except Exception as exc:  # noqa: BLE001 - this loop must outlive any failure
                log.warning("outcome poll failed: %s: %s", type(exc).__name__, exc)
