"""The last SCIM request made with each token, for the console's connection check.

`note()` is called after every authenticated SCIM request. It writes one row per token
(`scim_token_usage`) at most once every `every_s` seconds per token — the first request of a
token and any change of its answer's status class are always written — in a background
task, so the SCIM answer never waits for it and a failed write is only logged.
"""
from __future__ import annotations

import asyncio
import logging
import time
from uuid import UUID

import asyncpg

log = logging.getLogger(__name__)

_UPSERT = """
INSERT INTO scim_token_usage (token_id, tenant_id, first_used_at, last_used_at, last_method,
                              last_path, last_status)
VALUES ($1, $2, now(), now(), $3, $4, $5)
ON CONFLICT (token_id) DO UPDATE SET last_used_at = now(), last_method = $3, last_path = $4,
                                     last_status = $5
"""


class TokenUsage:
    def __init__(self, pool: asyncpg.Pool, every_s: float = 5.0) -> None:
        self._pool, self._every_s = pool, every_s
        self._written: dict[UUID, tuple[float, int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def note(self, tenant_id: UUID, token_id: UUID, method: str, path: str,
             status: int) -> None:
        """Record a request (never blocks, never raises)."""
        now = time.monotonic()
        last = self._written.get(token_id)
        if last is not None and now - last[0] < self._every_s and last[1] == status // 100:
            return
        self._written[token_id] = (now, status // 100)
        if len(self._written) > 100_000:
            self._written.clear()
        task = asyncio.create_task(self._write(tenant_id, token_id, method, path[:300], status))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, tenant_id: UUID, token_id: UUID, method: str, path: str,
                     status: int) -> None:
        try:
            await self._pool.execute(_UPSERT, token_id, tenant_id, method, path, status)
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("could not record token usage: %s", type(exc).__name__)

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
