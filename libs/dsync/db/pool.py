"""asyncpg pools with JSON codecs for jsonb, so handlers read and write plain dicts."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from dsync.settings import PostgresSettings


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: PostgresSettings, **overrides: Any) -> asyncpg.Pool:
    """Open a pool to `settings.database_url`; raises OSError/asyncpg errors if unreachable."""
    options: dict[str, Any] = {
        "min_size": settings.db_pool_min,
        "max_size": settings.db_pool_max,
        "init": _init_connection,
        "command_timeout": 30,
        # The default reset on release costs a round trip, but it also notices a
        # connection left mid-protocol by a server crash and drops it (a no-op reset
        # was measured faster and then reused such connections after a PostgreSQL restart).
    }
    options.update(overrides)
    pool = await asyncpg.create_pool(settings.database_url, **options)
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs (LISTEN connections, tools)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
