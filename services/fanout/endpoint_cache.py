"""Which tenants have endpoints wanting which events, in memory (the relevance check).

The fanout consumer asks `wants(event_type, tenant_id)` for every event before any I/O:
an event no endpoint of its tenant subscribes to is skipped with no database work. The
cache is loaded whole when the process's LISTEN connection (re)connects and reloaded per
tenant on `NOTIFY dsync_webhook_endpoints '<tenant id>'` (a trigger on `webhooks` sends
it, whoever changes the endpoints). While a tenant is being reloaded, or while the LISTEN
connection is down, the answer is "yes" (the consumer then asks the database, the source
of truth), so a stale cache can cost a query but never a delivery.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import asyncpg

from dsync.pipeline import channels
from dsync.pipeline.listener import NotifyListener
from dsync_services.fanout.event_filter import matches

log = logging.getLogger(__name__)
Filters = list[Sequence[str] | None]


class EndpointCache:
    def __init__(self, pool: asyncpg.Pool, listener: NotifyListener) -> None:
        self.pool = pool
        self.listener = listener
        self._filters: dict[str, Filters] = {}
        self._loaded = False
        self._dirty: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        listener.subscribe(channels.WEBHOOK_ENDPOINTS, self._changed)
        listener.on_connect(self.load_all)

    def wants(self, event_type: str, tenant_id: str) -> bool:
        """True when an endpoint of the tenant may want this event (or we cannot tell)."""
        if not self._loaded or tenant_id in self._dirty or not self.listener.connected.is_set():
            return True
        return any(matches(f, event_type) for f in self._filters.get(tenant_id, ()))

    async def load_all(self) -> None:
        self._loaded = False
        rows = await self.pool.fetch("SELECT tenant_id::text AS t, events FROM webhooks")
        filters: dict[str, Filters] = {}
        for r in rows:
            filters.setdefault(r["t"], []).append(r["events"])
        self._filters = filters
        self._loaded = True

    def _changed(self, tenant_id: str) -> None:
        self._dirty.add(tenant_id)  # synchronously: answers "yes" until reloaded
        task = asyncio.create_task(self._reload(tenant_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reload(self, tenant_id: str) -> None:
        try:
            rows = await self.pool.fetch("SELECT events FROM webhooks WHERE tenant_id = $1::uuid",
                                         tenant_id)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            log.warning("webhook cache reload failed (%s); kept as unknown",
                        type(exc).__name__)
            return  # stays dirty: "yes" until a later reload or reconnect succeeds
        self._filters[tenant_id] = [r["events"] for r in rows]
        self._dirty.discard(tenant_id)
