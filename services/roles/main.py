"""The roles service process: maintains each user's effective roles from `dsync.events`
(handlers) and applies queued `role_recomputation` operations — mapping changes and
retries — from the ledger (queued, ledger_worker)."""
from __future__ import annotations

from dsync.service_runtime import ServiceRuntime
from dsync_services.roles.event_loop import TrackedHandler, run_tracked_service
from dsync_services.roles.handlers import TYPES, RolesEvents
from dsync_services.roles.ledger_worker import LedgerWorker
from dsync_services.roles.metrics import RolesMetrics
from dsync_services.roles.queued import KIND, make_perform


async def main() -> None:
    metrics = RolesMetrics()
    events = RolesEvents(metrics)

    def make_handler(rt: ServiceRuntime) -> TrackedHandler:
        async def on_failure(event, exc):  # type: ignore[no-untyped-def]
            await events.on_failure(event, exc, rt.pool)
        return TrackedHandler(rt.pool, rt.name, events.apply, TYPES, on_failure,
                              events.on_applied)

    async def worker(rt: ServiceRuntime) -> None:
        await LedgerWorker(rt.pool, rt.postgres.database_url, KIND, make_perform(metrics),
                           lambda status: metrics.operations.labels(status).inc()).run(rt.stop)

    await run_tracked_service("roles", metrics.registry, make_handler, (worker,))
