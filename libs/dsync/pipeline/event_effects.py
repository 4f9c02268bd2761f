"""`TrackedEvents`: the `dsync.events` partition handler with exactly-once effects.

Per partition batch: decode each record cheaply (JSON only) and ask the service whether
the event is *relevant* (a pure, in-memory decision: event type, a cached per-tenant
fact). Irrelevant events cost no database work at all. Relevant ones are validated
(a malformed record goes to `<prefix>.events.dlq` with its origin, never retried) and
applied per tenant, in order, in ONE transaction with their `consumed_events` rows (one
statement for the batch; a redelivered or republished event is a unique-key hit and is
skipped) and the events they emit (outbox, one statement). One tenant per transaction
keeps lock order simple: it takes that tenant's locks only, so it never deadlocks with
another consumer or the directory.

A transaction that raised rolled back; `on_failure` is called for each of its events
and the consumer retries the batch with backoff, never committing past it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from dsync.db import DbConnection
from dsync.messages.events import CloudEvent, DraftEvent
from dsync.pipeline.outbox import append_events

log = logging.getLogger(__name__)

_DEDUPE = """
WITH ins AS (INSERT INTO consumed_events (consumer, event_id)
             SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id)
SELECT coalesce(array_agg(event_id), '{}') FROM ins
"""


def _first_of_each(events: Iterable[CloudEvent]) -> list[CloudEvent]:
    """Drop repeats of an event id within one batch (a relay republishing after a crash or
    a broker reset can put the same event twice in one fetch): the dedupe row says "new"
    for the id once, and the effect must be applied once."""
    seen: set[str] = set()
    out: list[CloudEvent] = []
    for event in events:
        if event.id not in seen:
            seen.add(event.id)
            out.append(event)
    return out


class EventEffects(Protocol):
    """What a service provides to `TrackedEvents`."""

    def relevant(self, event_type: str, tenant_id: str) -> bool:
        """Pure and cheap (no I/O): may this event cause an effect here?"""
    async def apply(self, conn: DbConnection, events: list[CloudEvent],
                    emit: list[DraftEvent]) -> None:
        """Apply one tenant's new relevant events, in order, in the given transaction
        (batch the statements: one per batch, not per event); add what they emit to
        `emit`."""
    async def on_failure(self, event: CloudEvent, exc: BaseException,
                         pool: asyncpg.Pool) -> None:
        """The transaction holding `event` failed (recorded in the ledger, if tracked)."""
    def on_applied(self, event: CloudEvent) -> None:
        """`event` was applied and committed (metrics)."""


class TrackedEvents:
    """Partition handler for PipelineConsumer on `dsync.events` (module docstring)."""

    def __init__(self, *, pool: asyncpg.Pool, name: str, effects: EventEffects,
                 producer: AIOKafkaProducer, dlq_topic: str,
                 on_skipped: Callable[[int], None] = lambda _n: None) -> None:
        self.pool = pool
        self.name = name
        self.effects = effects
        self.producer = producer
        self.dlq_topic = dlq_topic
        self.on_skipped = on_skipped

    async def __call__(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        per_tenant: dict[str, list[CloudEvent]] = {}
        skipped = 0
        for record in records:
            try:
                doc: Any = orjson.loads(record.value)
                event_type, tenant = doc["type"], doc["tenantid"]
            except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
                await self._dead_letter(tp, record, exc)
                continue
            if not (isinstance(event_type, str) and isinstance(tenant, str)):
                await self._dead_letter(tp, record, TypeError("type and tenantid: strings"))
                continue
            if not self.effects.relevant(event_type, tenant):
                skipped += 1
                continue
            try:
                event = CloudEvent.model_validate(doc)
            except ValidationError as exc:
                await self._dead_letter(tp, record, exc)
                continue
            per_tenant.setdefault(event.tenantid, []).append(event)
        if skipped:
            self.on_skipped(skipped)
        for events in per_tenant.values():
            await self.handle(events)

    async def handle(self, events: list[CloudEvent]) -> list[CloudEvent]:
        """Apply the new ones of one tenant's `events`, in order, in one transaction;
        return them. Raises (after `on_failure`) when applying failed."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                fresh = set(await conn.fetchval(_DEDUPE, self.name, [e.id for e in events]))
                new = _first_of_each(e for e in events if UUID(e.id) in fresh)
                emitted: list[DraftEvent] = []
                if new:
                    await self.effects.apply(conn, new, emitted)
                if emitted:
                    await append_events(conn, UUID(new[0].tenantid), emitted,
                                        datetime.now(UTC))
        except Exception as exc:
            for event in events:
                await self.effects.on_failure(event, exc, self.pool)
            raise
        for event in new:
            self.effects.on_applied(event)
        return new

    async def _dead_letter(self, tp: TopicPartition, record: ConsumerRecord,
                           exc: Exception) -> None:
        """Copy a malformed record to the events DLQ with its origin; never retried."""
        log.error("malformed event at %s[%d]@%d: %s; dead-lettered", tp.topic,  # noqa: TRY400
                  tp.partition, record.offset, type(exc).__name__,
                  extra={"reason_code": "invalid_message"})
        headers = [("origin_topic", tp.topic.encode()),
                   ("origin_partition", str(tp.partition).encode()),
                   ("origin_offset", str(record.offset).encode()),
                   ("consumer", self.name.encode()),
                   ("error", str(exc)[:2000].encode())]
        await self.producer.send_and_wait(self.dlq_topic, record.value, key=record.key,
                                          headers=headers)
