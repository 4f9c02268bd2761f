"""Turning one consumed event into deliveries, inside the consumer's dedupe transaction.

`Enqueuer` is the fanout service's `EventEffects` (dsync.pipeline.event_effects): `relevant`
asks the in-memory `EndpointCache` (no I/O), and `apply(conn, events, emit)` runs in the
transaction of the events' `consumed_events` rows, so an event creates its deliveries
exactly once however often Kafka hands it over. Paused endpoints get deliveries too: they wait in
the endpoint's queue and go out, in order, after `resume`. The NOTIFY wakes the delivery
workers at commit.
"""
from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

from dsync.db import DbConnection
from dsync.messages.events import CloudEvent, DraftEvent
from dsync.pipeline import channels
from dsync_services.fanout.endpoint_cache import EndpointCache
from dsync_services.fanout.event_filter import matches
from dsync_services.fanout.metrics import FanoutMetrics


def event_body(event: CloudEvent) -> str:
    """The CloudEvent JSON as POSTed to receivers (compact; `dataschema` omitted when unset)."""
    doc: dict[str, Any] = event.model_dump(mode="json")
    if doc.get("dataschema") is None:
        doc.pop("dataschema", None)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


class Enqueuer:
    def __init__(self, metrics: FanoutMetrics, endpoints: EndpointCache) -> None:
        self.metrics = metrics
        self.endpoints = endpoints

    def relevant(self, event_type: str, tenant_id: str) -> bool:
        return self.endpoints.wants(event_type, tenant_id)

    async def on_failure(self, event: CloudEvent, exc: BaseException,
                         pool: asyncpg.Pool) -> None:
        """Nothing to record: the batch is retried, deliveries are created once."""

    def on_applied(self, event: CloudEvent) -> None:
        self.metrics.events.labels(event.type).inc()

    async def apply(self, conn: DbConnection, events: list[CloudEvent],
                    emit: list[DraftEvent]) -> None:
        """Create one pending delivery per event and matching endpoint (idempotent per
        endpoint), for one tenant's events, in one statement."""
        rows = await conn.fetch("SELECT id, events FROM webhooks WHERE tenant_id = $1",
                                UUID(events[0].tenantid))
        pairs = [(r["id"], e) for e in events for r in rows if matches(r["events"], e.type)]
        if not pairs:
            return
        created = await conn.fetchval(
            "WITH ins AS (INSERT INTO webhook_deliveries (webhook_id, tenant_id, event_id,"
            " event_type, sequence, event_time, body) SELECT w, $1, e, t, s, tm, b"
            " FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[],"
            " $6::timestamptz[], $7::text[]) AS x(w, e, t, s, tm, b)"
            " ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING 1)"
            " SELECT count(*) FROM ins", UUID(events[0].tenantid),
            [w for w, _ in pairs], [UUID(e.id) for _, e in pairs], [e.type for _, e in pairs],
            [e.sequence for _, e in pairs], [e.time for _, e in pairs],
            [event_body(e) for _, e in pairs])
        if created:
            await conn.execute("SELECT pg_notify($1, '')", channels.WEBHOOKS)
            self.metrics.enqueued.inc(created)
