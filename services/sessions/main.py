"""The sessions service process: revokes a user's sessions after the directory deactivated
or deleted it (handlers), and re-runs retried revocations from the ledger.
Issuing and introspection are served by the gateway."""
from __future__ import annotations

from dsync.tracked_events import run_effect_service
from dsync_services.sessions.handlers import KIND, TYPES, SessionEvents, perform_queued
from dsync_services.sessions.metrics import SessionsMetrics


async def main() -> None:
    metrics = SessionsMetrics()
    await run_effect_service("sessions", metrics.registry, SessionEvents(metrics), TYPES, KIND,
                             perform_queued,
                             lambda status: metrics.operations.labels(status).inc())
