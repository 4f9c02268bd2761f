"""asyncpg pools with JSON codecs for jsonb, so handlers read and write plain dicts, and
optionally a bounded wait for a free connection (`PoolExhausted`)."""
from __future__ import annotations

import functools
from collections.abc import Generator
from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolAcquireContext

from dsync.db.tenant_scope import init_app_role
from dsync.settings import PostgresSettings


def _encode(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await conn.set_type_codec(name, encoder=_encode, decoder=orjson.loads,
                                  schema="pg_catalog")


async def _init_pooled(conn: asyncpg.Connection, *, app_role: str) -> None:
    await _init_connection(conn)
    if app_role:
        await init_app_role(conn, app_role)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Release without a reset query: dsync sets no session state (settings are
    transaction-local, locks transaction-scoped, LISTEN only on dedicated connections),
    and asyncpg still rolls back an open transaction. Saves a round trip per release.
    A connection broken by a server restart fails its next use; the callers treat that
    as transient and expire the pool's connections (`pool.expire_connections()`)."""


class PoolExhausted(Exception):  # noqa: N818 (a condition, not a bug)
    """No connection became free within the pool's acquire timeout (overload: transient)."""

    def __init__(self, timeout_s: float | None) -> None:
        super().__init__(f"no database connection free within {timeout_s}s")
        self.timeout_s = timeout_s


class _BoundedAcquire(PoolAcquireContext):
    __slots__ = ()

    async def __aenter__(self) -> Any:
        try:
            return await super().__aenter__()
        except TimeoutError:
            raise PoolExhausted(self.timeout) from None

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            return (yield from super().__await__())
        except TimeoutError:
            raise PoolExhausted(self.timeout) from None


class BoundedPool(asyncpg.Pool):
    """A pool whose `acquire()` (and so `fetch`, `execute`…) waits at most
    `acquire_timeout_s` for a free connection, then raises `PoolExhausted`."""

    acquire_timeout_s: float | None = None

    def acquire(self, *, timeout: float | None = None) -> PoolAcquireContext:
        return _BoundedAcquire(self, self.acquire_timeout_s if timeout is None else timeout)


async def create_pool(settings: PostgresSettings, *, acquire_timeout_s: float | None = None,
                      **overrides: Any) -> asyncpg.Pool:
    """Open a pool to `settings.database_url`; raises OSError/asyncpg errors if unreachable.

    With `acquire_timeout_s`, waiting for a free connection raises `PoolExhausted` after
    that long instead of waiting forever."""
    options: dict[str, Any] = {
        "min_size": settings.db_pool_min,
        "max_size": settings.db_pool_max,
        "init": functools.partial(_init_pooled, app_role=settings.db_app_role),
        "command_timeout": 30,
        "reset": _keep_session,
    }
    options.update(overrides)
    if acquire_timeout_s is None:
        pool = await asyncpg.create_pool(settings.database_url, **options)
        assert pool is not None
        return pool
    bounded = BoundedPool(settings.database_url, max_queries=50000,
                          max_inactive_connection_lifetime=300.0, loop=None,
                          connection_class=asyncpg.Connection, record_class=asyncpg.Record,
                          **options)
    bounded.acquire_timeout_s = acquire_timeout_s
    await bounded
    return bounded


OWNER_SESSION_SETTINGS = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "11000",
}
"""Server-side TCP liveness of a dedicated connection. An owner that dies with its socket
closed (SIGKILL, crash) loses its session at once; one whose host or network vanishes
without a FIN is dropped by PostgreSQL after at most ~11 s (5 s idle + 3 probes 2 s apart,
or 11 s of unacknowledged data). Session-level advisory locks die with the session, so
this bounds how long a vanished owner can keep one. (No effect on Unix sockets, where the
kernel reports a dead peer at once.)"""


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs (LISTEN connections, lock owners, tools),
    with `OWNER_SESSION_SETTINGS` so the server notices a vanished client quickly."""
    conn = await asyncpg.connect(dsn, server_settings=OWNER_SESSION_SETTINGS)
    await _init_connection(conn)
    return conn
