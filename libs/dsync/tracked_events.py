"""A `dsync.events` consumer whose side effects are tracked in the operations ledger.

Each fetched batch of a partition is decoded (malformed records are logged and skipped),
filtered by type and split per tenant, keeping order. Each tenant's events are applied in
ONE transaction together with their `consumed_events` rows (a redelivered event is a
unique-key hit and is skipped). The events the handlers emit are collected and put in the
outbox once, just before commit, so the tenant's event-sequence row (which the directory's
writes need too) stays locked only for the last statement. One tenant per transaction keeps
lock order simple: a transaction takes that tenant's locks only, so it can never deadlock
with another consumer or the directory.

Hooks: `on_failure(event, exc)` for every event of a transaction that raised (it rolled
back; the consumer retries the batch with backoff, never committing past it), and
`on_applied(event)` for every new event after its transaction committed.
Shared by the roles and sessions services (`run_effect_service`).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol
from uuid import UUID

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from dsync.kafka.ordered_consumer import OrderedConsumer
from dsync.ledger_worker import LedgerWorker, Perform
from dsync.messages.events import CloudEvent, DraftEvent, parse_event
from dsync.outbox import append_events
from dsync.service_runtime import ServiceRuntime, service_runtime

log = logging.getLogger(__name__)
ApplyEvent = Callable[[asyncpg.Connection, CloudEvent, list[DraftEvent]], Awaitable[None]]
"""Apply one event in the given transaction; append the events it emits to the list."""
OnFailure = Callable[[CloudEvent, BaseException], Awaitable[None]]
OnApplied = Callable[[CloudEvent], None]
Extra = Callable[[ServiceRuntime], Awaitable[None]]

_DEDUPE = """
WITH ins AS (INSERT INTO consumed_events (consumer, event_id)
             SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id)
SELECT coalesce(array_agg(event_id), '{}') FROM ins
"""


class TrackedHandler:
    """Partition handler for OrderedConsumer on `dsync.events` (see module docstring)."""

    def __init__(self, pool: asyncpg.Pool, name: str, apply: ApplyEvent,
                 types: frozenset[str], on_failure: OnFailure, on_applied: OnApplied) -> None:
        self.pool = pool
        self.name = name
        self.apply = apply
        self.types = types
        self.on_failure = on_failure
        self.on_applied = on_applied

    async def __call__(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        per_tenant: dict[str, list[CloudEvent]] = {}
        for record in records:
            try:
                event = parse_event(record.value)
            except (ValidationError, ValueError):
                log.error("skipping malformed event at %s[%d]@%d",  # noqa: TRY400
                          tp.topic, tp.partition,
                          record.offset, extra={"reason_code": "invalid_message"})
                continue
            if event.type in self.types:
                per_tenant.setdefault(event.tenantid, []).append(event)
        for events in per_tenant.values():
            await self.handle(events)

    async def handle(self, events: list[CloudEvent]) -> list[CloudEvent]:
        """Apply the new ones of one tenant's `events`, in order, in one transaction;
        return them. Raises (after `on_failure`) when applying failed."""
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                fresh = set(await conn.fetchval(_DEDUPE, self.name, [e.id for e in events]))
                new = [e for e in events if UUID(e.id) in fresh]
                emitted: list[DraftEvent] = []
                for event in new:
                    await self.apply(conn, event, emitted)
                if new:
                    await append_events(conn, UUID(new[0].tenantid), emitted,
                                        datetime.now(UTC))
        except Exception as exc:
            for event in events:
                await self.on_failure(event, exc)
            raise
        for event in new:
            self.on_applied(event)
        return new


async def run_tracked_service(name: str, registry: CollectorRegistry,
                              make_handler: Callable[[ServiceRuntime], TrackedHandler],
                              extra_tasks: tuple[Extra, ...] = ()) -> None:
    """Consume `dsync.events` as group `dsync-<name>` until SIGTERM, with `extra_tasks`."""
    consumer: OrderedConsumer | None = None
    async with service_runtime(name, registry,
                               lambda: consumer is not None and consumer.assigned) as rt:
        consumer = OrderedConsumer(rt.kafka, topic=rt.kafka.events_topic,
                                   group_id=f"dsync-{name}", service=name,
                                   handler=make_handler(rt), pool=rt.pool)
        await asyncio.gather(consumer.run(rt.stop), *(task(rt) for task in extra_tasks))


class EffectEvents(Protocol):
    """What a service's event handlers provide to `run_effect_service`."""

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent,
                    emit: list[DraftEvent]) -> None: ...
    async def on_failure(self, event: CloudEvent, exc: BaseException,
                         pool: asyncpg.Pool) -> None: ...
    def on_applied(self, event: CloudEvent) -> None: ...


async def run_effect_service(name: str, registry: CollectorRegistry, events: EffectEvents,
                             types: frozenset[str], kind: str,
                             perform: Perform, count: Callable[[str], None]) -> None:
    """The whole roles/sessions process: tracked event consumption plus the ledger worker
    that re-runs queued operations of `kind` (retries, mapping changes)."""
    def make_handler(rt: ServiceRuntime) -> TrackedHandler:
        async def on_failure(event: CloudEvent, exc: BaseException) -> None:
            await events.on_failure(event, exc, rt.pool)
        return TrackedHandler(rt.pool, rt.name, events.apply, types, on_failure,
                              events.on_applied)

    async def worker(rt: ServiceRuntime) -> None:
        await LedgerWorker(rt.pool, rt.postgres.database_url, kind, perform, count).run(rt.stop)

    await run_tracked_service(name, registry, make_handler, (worker,))
