"""Consuming `dsync.events` with exactly-once effects.

`EventHandler` decodes each record (malformed records are logged and skipped: they were
not produced by dsync), and applies every new event in its own transaction together with
a `consumed_events` row keyed by (consumer, event id): a redelivered or republished event
is a unique-key hit and changes nothing twice.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

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
        for record in records:
            try:
                event = parse_event(record.value)
            except (ValidationError, ValueError):
                log.error("skipping malformed event at %s[%d]@%d", tp.topic, tp.partition,
                          record.offset, extra={"reason_code": "invalid_message"})
                continue
            if self.types is not None and event.type not in self.types:
                continue
            await self.handle(event)

    async def handle(self, event: CloudEvent) -> bool:
        """Apply `event` once; return False when it had been applied before."""
        async with self.pool.acquire() as conn, conn.transaction():
            first = await conn.fetchval(
                "INSERT INTO consumed_events (consumer, event_id) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING true", self.consumer_name, event.id)
            if not first:
                return False
            await self.apply(conn, event)
            return True
