"""An ordered, at-least-once consumer loop (the arroyo shape, on plain aiokafka).

For each assigned partition, records are handed to the handler in offset order, one
batch at a time; the offset is committed only after the handler returned. Partitions are
processed concurrently, so one slow tenant partition does not hold up the others.
A handler that raises is retried with capped exponential backoff on the same records
(never committed past): handlers classify poison themselves (dead-letter and return) and
let transient errors (database, broker) raise.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError

from dsync.kafka.clients import build_consumer
from dsync.settings import KafkaSettings

log = logging.getLogger(__name__)

PartitionHandler = Callable[[TopicPartition, list[ConsumerRecord]], Awaitable[None]]


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.partitions: set[TopicPartition] = set()
        self.generation = 0

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.partitions -= set(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.partitions |= set(assigned)
        self.generation += 1


class OrderedConsumer:
    """Consume `topic` in consumer group `group_id`, calling `handler(tp, records)`."""

    def __init__(self, settings: KafkaSettings, *, topic: str, group_id: str, service: str,
                 handler: PartitionHandler, pool: asyncpg.Pool | None = None,
                 max_backoff_s: float = 5.0) -> None:
        self.settings = settings
        self.topic = topic
        self.group_id = group_id
        self.service = service
        self.handler = handler
        self.pool = pool
        self.max_backoff_s = max_backoff_s
        self.instance = f"{socket.gethostname()}-{os.getpid()}"
        self.assignment = _Assignment()
        self.consumer = build_consumer(settings, group_id=group_id,
                                       client_id=f"{service}-{os.getpid()}")

    @property
    def assigned(self) -> bool:
        return bool(self.assignment.partitions)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then leave the group cleanly."""
        self.consumer.subscribe([self.topic], listener=self.assignment)
        await self.consumer.start()
        heartbeat = asyncio.create_task(self._report_heartbeats(stop))
        try:
            while not stop.is_set():
                try:
                    batches = await self.consumer.getmany(timeout_ms=200, max_records=500)
                except KafkaError as exc:
                    log.warning("fetch failed: %s", exc)
                    await asyncio.sleep(0.5)
                    continue
                if batches:
                    await asyncio.gather(*(self._process(tp, records, stop)
                                           for tp, records in batches.items()))
        finally:
            heartbeat.cancel()
            await self.consumer.stop()
            await self._clear_heartbeat()

    async def _process(self, tp: TopicPartition, records: list[ConsumerRecord],
                       stop: asyncio.Event) -> None:
        delay = 0.05
        while True:
            try:
                await self.handler(tp, records)
                break
            except Exception:
                if stop.is_set():
                    return
                log.exception("handler failed on %s[%d]@%d; retrying in %.2fs",
                              tp.topic, tp.partition, records[0].offset, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
                if tp not in self.assignment.partitions:
                    return  # partition moved to another member: it will redo the batch
        try:
            await self.consumer.commit({tp: records[-1].offset + 1})
        except (CommitFailedError, KafkaError) as exc:
            # Redelivery after a failed commit is harmless: handlers dedupe.
            log.warning("commit failed on %s[%d]: %s", tp.topic, tp.partition, exc)

    async def _report_heartbeats(self, stop: asyncio.Event) -> None:
        if self.pool is None:
            return
        while not stop.is_set():
            parts = sorted(tp.partition for tp in self.assignment.partitions)
            try:
                await self.pool.execute(
                    "INSERT INTO service_heartbeats (service, instance, topic, partitions, "
                    "updated_at) VALUES ($1, $2, $3, $4, now()) ON CONFLICT (service, instance) "
                    "DO UPDATE SET topic = $3, partitions = $4, updated_at = now()",
                    self.service, self.instance, self.topic, parts)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("heartbeat write failed: %s", exc)
            await asyncio.sleep(2.0)

    async def _clear_heartbeat(self) -> None:
        if self.pool is None:
            return
        try:
            await self.pool.execute(
                "DELETE FROM service_heartbeats WHERE service = $1 AND instance = $2",
                self.service, self.instance)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass
