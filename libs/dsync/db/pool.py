"""asyncpg pools with JSON codecs for jsonb, so handlers read and write plain dicts."""
from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from dsync.settings import PostgresSettings


def _encode(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("jsonb", "json"):
        await conn.set_type_codec(name, encoder=_encode, decoder=orjson.loads,
                                  schema="pg_catalog")


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Release without a reset query: dsync sets no session state (settings are
    transaction-local, locks transaction-scoped, LISTEN only on dedicated connections),
    and asyncpg still rolls back an open transaction. Saves a round trip per release.
    A connection broken by a server restart fails its next use; the callers treat that
    as transient and expire the pool's connections (`pool.expire_connections()`)."""


async def create_pool(settings: PostgresSettings, **overrides: Any) -> asyncpg.Pool:
    """Open a pool to `settings.database_url`; raises OSError/asyncpg errors if unreachable."""
    options: dict[str, Any] = {
        "min_size": settings.db_pool_min,
        "max_size": settings.db_pool_max,
        "init": _init_connection,
        "command_timeout": 30,
        "reset": _keep_session,
    }
    options.update(overrides)
    pool = await asyncpg.create_pool(settings.database_url, **options)
    assert pool is not None
    return pool


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
