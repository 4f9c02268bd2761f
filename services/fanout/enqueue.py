"""Turning one consumed event into deliveries, inside the consumer's dedupe transaction.

`Enqueuer.apply(conn, event)` runs on the connection (and transaction) of the
`consumed_events` row (dsync.event_consumer), so an event creates its deliveries exactly
once however often Kafka hands it over. Paused endpoints get deliveries too: they wait in
the endpoint's queue and go out, in order, after `resume`. The NOTIFY wakes the delivery
workers at commit.
"""
from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

from dsync.messages.events import CloudEvent
from dsync_services.fanout.event_filter import matches
from dsync_services.fanout.metrics import FanoutMetrics

WEBHOOKS_CHANNEL = "dsync_webhooks"


def event_body(event: CloudEvent) -> str:
    """The CloudEvent JSON as POSTed to receivers (compact; `dataschema` omitted when unset)."""
    doc: dict[str, Any] = event.model_dump(mode="json")
    if doc.get("dataschema") is None:
        doc.pop("dataschema", None)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


async def targets(conn: asyncpg.Connection, event: CloudEvent) -> list[UUID]:
    """Ids of the tenant's endpoints whose filter selects `event`, active or paused."""
    rows = await conn.fetch("SELECT id, events FROM webhooks WHERE tenant_id = $1",
                            UUID(event.tenantid))
    return [r["id"] for r in rows if matches(r["events"], event.type)]


class Enqueuer:
    def __init__(self, metrics: FanoutMetrics) -> None:
        self.metrics = metrics

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent) -> None:
        """Create one pending delivery per matching endpoint (idempotent per endpoint)."""
        webhook_ids = await targets(conn, event)
        if not webhook_ids:
            return
        created = await conn.fetch(
            "INSERT INTO webhook_deliveries (webhook_id, tenant_id, event_id, event_type,"
            " sequence, event_time, body) SELECT w, $2, $3, $4, $5, $6, $7"
            " FROM unnest($1::uuid[]) AS w ON CONFLICT (webhook_id, event_id) DO NOTHING"
            " RETURNING id", webhook_ids, UUID(event.tenantid), UUID(event.id), event.type,
            event.sequence, event.time, event_body(event))
        if created:
            await conn.execute("SELECT pg_notify($1, '')", WEBHOOKS_CHANNEL)
            self.metrics.enqueued.inc(len(created))
