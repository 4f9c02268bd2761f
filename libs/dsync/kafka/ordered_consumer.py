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
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError

from dsync.kafka.clients import build_consumer
from dsync.kafka.topics import ensure_topics
from dsync.settings import KafkaSettings

log = logging.getLogger(__name__)

class _BrokerReset(Exception):  # noqa: N818
    """The broker no longer has our topic or group: recreate topics and rejoin."""


async def _ensure_topics_retrying(settings: KafkaSettings, stop: asyncio.Event) -> None:
    delay = 0.5
    while not stop.is_set():
        try:
            await ensure_topics(settings)
            return
        except KafkaError as exc:
            log.warning("cannot create topics yet: %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


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
                 max_backoff_s: float = 5.0, max_records: int = 500) -> None:
        self.settings = settings
        self.topic = topic
        self.group_id = group_id
        self.service = service
        self.handler = handler
        self.pool = pool
        self.max_backoff_s = max_backoff_s
        self.instance = f"{socket.gethostname()}-{os.getpid()}"
        self.max_records = max_records
        self.assignment = _Assignment()
        self.consumer = self._new_consumer()
        self._commit_failures = 0
        self.restarts = 0

    def _new_consumer(self) -> AIOKafkaConsumer:
        wait = (self.settings.kafka_events_fetch_max_wait_ms
                if self.topic == self.settings.events_topic else None)
        return build_consumer(self.settings, group_id=self.group_id,
                              client_id=f"{self.service}-{os.getpid()}", fetch_max_wait_ms=wait)

    @property
    def assigned(self) -> bool:
        return bool(self.assignment.partitions)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then leave the group cleanly.

        If the broker lost the topic or the group (a restart of the embedded broker loses
        everything; KAFKA.md §5) — seen as the topic missing from metadata or commits failing
        repeatedly — the topics are created again and the consumer rejoins from scratch.
        """
        heartbeat = asyncio.create_task(self._report_heartbeats(stop))
        try:
            while not stop.is_set():
                try:
                    await self._consume(stop)
                except _BrokerReset as reset:
                    self.restarts += 1
                    log.warning("rejoining after broker reset: %s", reset)
                    self.assignment.partitions.clear()
                    await _ensure_topics_retrying(self.settings, stop)
                    self.consumer = self._new_consumer()
        finally:
            heartbeat.cancel()
            await self._clear_heartbeat()

    async def _consume(self, stop: asyncio.Event) -> None:
        self._commit_failures = 0
        self.consumer.subscribe([self.topic], listener=self.assignment)
        await self.consumer.start()
        watchdog = asyncio.create_task(self._watch_topic(stop))
        try:
            while not stop.is_set():
                if watchdog.done():
                    watchdog.result()  # raises _BrokerReset
                try:
                    batches = await self.consumer.getmany(timeout_ms=200,
                                                          max_records=self.max_records)
                except KafkaError as exc:
                    log.warning("fetch failed: %s", exc)
                    await asyncio.sleep(0.5)
                    continue
                if batches:
                    await asyncio.gather(*(self._process(tp, records, stop)
                                           for tp, records in batches.items()))
                if self._commit_failures >= 3:
                    raise _BrokerReset("offset commits keep failing")
        finally:
            watchdog.cancel()
            try:
                await self.consumer.stop()
            except KafkaError as exc:
                log.warning("consumer stop failed: %s", exc)

    async def _watch_topic(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(3.0)
            try:  # the consumer's own connection: no admin client per check
                topics = await self.consumer.topics()
            except KafkaError:
                continue  # broker unreachable: the client keeps retrying by itself
            if self.topic not in topics:
                raise _BrokerReset(f"topic {self.topic} is gone")

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
                if self.pool is not None:  # connections may be left broken by a DB crash
                    await self.pool.expire_connections()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
                if tp not in self.assignment.partitions:
                    return  # partition moved to another member: it will redo the batch
        try:
            # aiokafka retries "retriable" commit errors forever (after a broker reset:
            # UnknownTopicOrPartition); bound it so the loop can notice and rejoin.
            await asyncio.wait_for(self.consumer.commit({tp: records[-1].offset + 1}), 5.0)
            self._commit_failures = 0
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
            # Redelivery after a failed commit is harmless: handlers dedupe.
            self._commit_failures += 1
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
            except Exception as exc:  # noqa: BLE001 - reporting must outlive any failure
                log.warning("heartbeat write failed: %s: %s", type(exc).__name__, exc)
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
