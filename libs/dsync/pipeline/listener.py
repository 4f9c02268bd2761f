"""`NotifyListener`: one PostgreSQL LISTEN connection per process, kept alive.

Components subscribe callbacks to channels (see `channels`). The connection is watched
and re-opened after a database restart, with backoff; every `on_connect` hook runs after
each (re)connect, so a component can catch up on what it may have missed while the
connection was down (a NOTIFY sent then is lost). Callbacks run in the event loop and
must not block; they usually set an `asyncio.Event`.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from dsync.db import DbConnection
from dsync.db.pool import connect
from dsync.pipeline.backoff import Backoff

log = logging.getLogger(__name__)
Callback = Callable[[str], None]
"""Called with the NOTIFY payload."""


class NotifyListener:
    def __init__(self, dsn: str, check_s: float = 5.0) -> None:
        self.dsn = dsn
        self.check_s = check_s
        self._callbacks: dict[str, list[Callback]] = {}
        self._on_connect: list[Callable[[], Awaitable[None] | None]] = []
        self._conn: DbConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._pending: set[asyncio.Future[Any]] = set()
        self._lock = asyncio.Lock()
        self.connected = asyncio.Event()
        """Set while the LISTEN connection is up (notifications can be missed otherwise)."""

    def subscribe(self, channel: str, callback: Callback) -> None:
        """Call `callback(payload)` on every NOTIFY on `channel` (before or after start)."""
        new = channel not in self._callbacks
        self._callbacks.setdefault(channel, []).append(callback)
        conn = self._conn
        if new and conn is not None and not conn.is_closed():
            self._spawn(self._listen(conn, channel))

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _listen(self, conn: DbConnection, channel: str) -> None:
        async with self._lock:  # one operation at a time on the connection
            try:
                await conn.add_listener(channel, self._dispatch)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("LISTEN %s failed (%s); retried at reconnect", channel,
                            type(exc).__name__)
                self._lost.set()

    def on_connect(self, hook: Callable[[], Awaitable[None] | None]) -> None:
        """Run `hook` after every (re)connect; at once too if connected already."""
        self._on_connect.append(hook)
        if self.connected.is_set():
            result = hook()
            if result is not None:
                self._spawn(result)

    async def start(self) -> None:
        """Connect once (raises if PostgreSQL is unreachable), then keep the connection."""
        await self._connect()
        self._task = asyncio.create_task(self._keep(), name="notify-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            with contextlib.suppress(Exception):
                await self._conn.close()

    def _dispatch(self, _conn: object, _pid: int, channel: str, payload: object) -> None:
        for callback in self._callbacks.get(channel, ()):
            try:
                callback(str(payload))
            except Exception:  # a broken callback must not stop the others
                log.exception("NOTIFY callback for %s failed", channel)

    async def _connect(self) -> None:
        conn = await connect(self.dsn)
        conn.add_termination_listener(lambda _c: self._lost.set())
        async with self._lock:
            for channel in list(self._callbacks):
                await conn.add_listener(channel, self._dispatch)
            self._conn = conn
        self._lost.clear()
        self.connected.set()
        for hook in self._on_connect:
            result = hook()
            if result is not None:
                try:
                    await result
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("on-connect hook failed: %s", type(exc).__name__)

    async def _keep(self) -> None:
        backoff = Backoff(first_s=0.2, cap_s=5.0)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self.check_s)
            conn = self._conn
            if conn is not None and not conn.is_closed() and not self._lost.is_set():
                continue
            self.connected.clear()
            try:
                await self._connect()
                backoff.reset()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                delay = backoff.next()
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs",
                            type(exc).__name__, delay)
                self._lost.set()
                await asyncio.sleep(delay)
