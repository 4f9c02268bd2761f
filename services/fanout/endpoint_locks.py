"""Exclusive ownership of endpoint queues that dies with the owning process.

Each delivery worker holds one dedicated PostgreSQL connection. An endpoint queue is its
while that connection's session holds the session-level advisory lock
`(NAMESPACE, key(webhook id))` (`pg_try_advisory_lock`): a SIGKILLed or crashed fanout
loses the session when its socket closes and the queue is free for another worker at
once, not after a timer. A vanished host (no FIN) is dropped by PostgreSQL within ~11 s
(`dsync.db.pool.OWNER_SESSION_SETTINGS`).

The owner side fences itself before the server does: `heartbeat()` pings the connection
every `HEARTBEAT_S` with a `HEARTBEAT_TIMEOUT_S` bound and marks every lock lost on the
first failure, and the drain loop checks `held` (in memory) before each send and the
lock's presence in `pg_locks` (`repository.lease_batch`) before each batch. Two keys may
hash alike: then both queues share one lock, which costs concurrency, never exclusivity.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

import asyncpg

from dsync.db.pool import connect

log = logging.getLogger(__name__)
T = TypeVar("T")
NAMESPACE = 0x77686B  # "whk": the first key of every endpoint lock
HEARTBEAT_S = 1.0
HEARTBEAT_TIMEOUT_S = 2.0
KEY_SQL = "(hashtext({id}::text) & 2147483647)"
"""The second lock key of an endpoint, non-negative so it reads back as `pg_locks.objid`."""

_TRY_LOCK = (f"SELECT id FROM unnest($1::uuid[]) AS id"
             f" WHERE pg_try_advisory_lock({NAMESPACE}, {KEY_SQL.format(id='id')})")
_UNLOCK = f"SELECT pg_advisory_unlock({NAMESPACE}, {KEY_SQL.format(id='$1::uuid')})"


class EndpointLocks:
    """The lock connection of one delivery worker. Not usable before `open()`.

    All calls are serialised on the one connection. `held` turns False (for good: open a
    new `EndpointLocks` to start again) when the connection fails or a heartbeat times out;
    every lock it held is then gone or going, and no more deliveries may be sent under it.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._mutex = asyncio.Lock()
        self._lost = False

    async def open(self) -> None:
        self._conn = await connect(self.dsn)

    async def close(self) -> None:
        self._lost = True
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)

    @property
    def held(self) -> bool:
        return not self._lost and self._conn is not None and not self._conn.is_closed()

    @property
    def backend_pid(self) -> int:
        assert self._conn is not None
        return int(self._conn.get_server_pid())

    async def try_lock(self, webhook_ids: list[UUID]) -> list[UUID]:
        """Lock those of `webhook_ids` no other session holds; returns the ones now ours."""
        if not webhook_ids:
            return []
        rows = await self._call(lambda conn: conn.fetch(_TRY_LOCK, webhook_ids))
        return [r["id"] for r in rows]

    async def unlock(self, webhook_id: UUID) -> None:
        """Give one endpoint back; nothing to do when the connection is already gone."""
        if self.held:
            await self._call(lambda conn: conn.fetchval(_UNLOCK, webhook_id))

    async def heartbeat(self, stop: asyncio.Event) -> None:
        """Ping until `stop` or the first failure; a failure marks every lock lost."""
        while not stop.is_set() and self.held:
            try:
                await self._call(lambda conn: conn.fetchval("SELECT 1",
                                                            timeout=HEARTBEAT_TIMEOUT_S))
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
                    asyncpg.InternalClientError):  # a connection left mid-operation
                break  # _call marked the locks lost
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEARTBEAT_S)

    async def _call(self, query: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        if not self.held or self._conn is None:
            raise asyncpg.InterfaceError("endpoint lock connection lost")
        async with self._mutex:
            try:
                return await query(self._conn)
            except BaseException as exc:
                if not isinstance(exc, asyncpg.PostgresError) or self._conn.is_closed():
                    self._lost = True
                    log.warning("endpoint lock connection lost: %s: %s",
                                type(exc).__name__, exc)
                raise
