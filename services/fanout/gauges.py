"""The fanout's sampled gauges: webhook deliveries waiting or given up (docs/deploy.md#metrics)."""
from __future__ import annotations

import asyncpg
from prometheus_client import CollectorRegistry, Gauge

DELIVERIES_SQL = ("SELECT status, count(*) AS n FROM webhook_deliveries"
                  " WHERE status IN ('pending', 'retrying', 'dead') GROUP BY status")
STATUSES = ("pending", "retrying", "dead")


class DeliveryGauges:
    def __init__(self, pool: asyncpg.Pool, registry: CollectorRegistry) -> None:
        self.pool = pool
        self.deliveries = Gauge("dsync_webhook_deliveries",
                                "Webhook deliveries by status: pending and retrying are"
                                " waiting, dead were given up", ["status"], registry=registry)
        for status in STATUSES:
            self.deliveries.labels(status).set(0)

    async def sample(self) -> None:
        counts = {r["status"]: r["n"] for r in await self.pool.fetch(DELIVERIES_SQL)}
        for status in STATUSES:
            self.deliveries.labels(status).set(counts.get(status, 0))


__all__ = ["DeliveryGauges"]
