"""The sessions service process: revokes a user's sessions after the directory deactivated
or deleted it (handlers), and re-runs retried revocations from the ledger (ledger_worker).
Issuing and introspection are served by the gateway."""
from __future__ import annotations

from dsync.service_runtime import ServiceRuntime
from dsync_services.roles.event_loop import TrackedHandler, run_tracked_service
from dsync_services.roles.ledger_worker import LedgerWorker
from dsync_services.sessions.handlers import KIND, TYPES, SessionEvents, perform_queued
from dsync_services.sessions.metrics import SessionsMetrics


async def main() -> None:
    metrics = SessionsMetrics()
    events = SessionEvents(metrics)

    def make_handler(rt: ServiceRuntime) -> TrackedHandler:
        async def on_failure(event, exc):  # type: ignore[no-untyped-def]
            await events.on_failure(event, exc, rt.pool)
        return TrackedHandler(rt.pool, rt.name, events.apply, TYPES, on_failure,
                              events.on_applied)

    async def worker(rt: ServiceRuntime) -> None:
        """Retried `session_revocation` operations (an operator's POST …/retry)."""
        await LedgerWorker(rt.pool, rt.postgres.database_url, KIND, perform_queued,
                           lambda status: metrics.operations.labels(status).inc()).run(rt.stop)

    await run_tracked_service("sessions", metrics.registry, make_handler, (worker,))
