"""The roles service process. For now it logs the events it receives."""
from __future__ import annotations

import logging

import asyncpg

from dsync.event_service import run_event_service
from dsync.messages.events import CloudEvent
from dsync.service_runtime import ServiceRuntime

log = logging.getLogger(__name__)


def _apply(_: ServiceRuntime):  # type: ignore[no-untyped-def]
    async def apply(conn: asyncpg.Connection, event: CloudEvent) -> None:
        log.info("received %s seq=%d", event.type, event.sequence,
                 extra={"tenant_id": event.tenantid, "event_id": event.id})
    return apply


async def main() -> None:
    await run_event_service("roles", _apply)
