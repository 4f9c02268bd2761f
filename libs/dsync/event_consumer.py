"""Consuming `dsync.events` with exactly-once effects.

`EventHandler` decodes each record (malformed records are logged and skipped: they were
not produced by dsync), and applies every new event in its own transaction together with
a `consumed_events` row keyed by (consumer, event id): a redelivered or republished event
is a unique-key hit and changes nothing twice.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from pydantic import ValidationError

from dsync.messages.events import CloudEvent, parse_event

log = logging.getLogger(__name__)

ApplyEvent = Callable[[asyncpg.Connection, CloudEvent], Awaitable[None]]


class EventHandler:
    """Partition handler for OrderedConsumer on `dsync.events`."""

    def __init__(self, pool: asyncpg.Pool, consumer_name: str, apply: ApplyEvent,
                 types: frozenset[str] | None = None) -> None:
        self.pool = pool
        self.consumer_name = consumer_name
        self.apply = apply
        self.types = types

    async def __call__(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        events: list[CloudEvent] = []
        for record in records:
            try:
                event = parse_event(record.value)
            except (ValidationError, ValueError):
                log.error("skipping malformed event at %s[%d]@%d", tp.topic, tp.partition,
                          record.offset, extra={"reason_code": "invalid_message"})
                continue
            if self.types is None or event.type in self.types:
                events.append(event)
        if events:
            await self.handle_many(events)

    async def handle_many(self, events: list[CloudEvent]) -> int:
        """Apply each event not applied before, in order, in ONE transaction; return how
        many were new. Raises on database errors (nothing of the batch is kept then)."""
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = set(await conn.fetchval(
                "WITH ins AS (INSERT INTO consumed_events (consumer, event_id)"
                " SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id)"
                " SELECT coalesce(array_agg(event_id), '{}') FROM ins",
                self.consumer_name, [e.id for e in events]))
            new = [e for e in events if UUID(e.id) in fresh]
            for event in new:
                await self.apply(conn, event)
            return len(new)

    async def handle(self, event: CloudEvent) -> bool:
        """Apply `event` once; return False when it had been applied before."""
        return await self.handle_many([event]) == 1
