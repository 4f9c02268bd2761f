"""The directory's partition handler: decode each record (poison -> dead letter), then
apply the batch's commands in order in one transaction."""
from __future__ import annotations

import logging

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from dsync.messages.commands import Command, parse_command
from dsync.tracing import Tracing
from dsync_services.directory.apply_commands import apply_batch
from dsync_services.directory.metrics import DirectoryMetrics

log = logging.getLogger(__name__)


class DlqBreakerOpen(Exception):  # noqa: N818
    """Too many malformed commands in a row: stop instead of draining into the DLQ."""


class CommandHandler:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, dlq_topic: str,
                 metrics: DirectoryMetrics, *, max_batch: int = 500,
                 dlq_max_consecutive: int = 100, tracing: Tracing | None = None) -> None:
        self.pool = pool
        self.tracing = tracing or Tracing()
        self.producer = producer
        self.dlq_topic = dlq_topic
        self.metrics = metrics
        self.max_batch = max_batch
        self.dlq_max_consecutive = dlq_max_consecutive
        self._poison_run: dict[TopicPartition, int] = {}

    async def __call__(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        """Dead-letter malformed records, apply the rest in order, `max_batch` per
        transaction. Raises (so nothing is committed) on database errors and when the
        DLQ circuit breaker is open."""
        if not self.tracing.enabled:
            await self._handle(tp, records)
            return
        with self.tracing.span("dsync.command apply", kind="CONSUMER",
                               from_records=[r.headers for r in records],
                               attributes={"messaging.destination.name": tp.topic,
                                           "messaging.batch.message_count": len(records)}):
            await self._handle(tp, records)

    async def _handle(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        commands: list[tuple[Command, bytes]] = []
        for record in records:
            try:
                command = parse_command(record.value)
            except (ValidationError, ValueError) as exc:
                await self._apply(commands)  # keep order: what came before goes first
                commands = []
                await self._dead_letter(tp, record, exc)
                continue
            self._poison_run[tp] = 0
            self.metrics.dlq_breaker_open.set(0)
            commands.append((command, record.value))
        await self._apply(commands)

    async def _apply(self, commands: list[tuple[Command, bytes]]) -> None:
        for start in range(0, len(commands), self.max_batch):
            chunk = commands[start:start + self.max_batch]
            with self.metrics.batch_seconds.time():
                await apply_batch(self.pool, chunk, self._count)
            self.metrics.batch_size.observe(len(chunk))

    def _count(self, status: str) -> None:
        self.metrics.commands.labels(status).inc()

    async def _dead_letter(self, tp: TopicPartition, record: ConsumerRecord,
                           exc: Exception) -> None:
        """Copy a malformed record to the DLQ with its origin; it is never retried."""
        run = self._poison_run.get(tp, 0)
        if run >= self.dlq_max_consecutive:
            self.metrics.dlq_breaker_open.set(1)
            raise DlqBreakerOpen(
                f"{run} malformed commands in a row on {tp.topic}[{tp.partition}]; holding "
                f"the partition at offset {record.offset} instead of dead-lettering more. "
                "Fix the producer, or raise DSYNC_DLQ_MAX_CONSECUTIVE and restart.")
        self._poison_run[tp] = run + 1
        log.error("poison command at %s[%d]@%d: %s", tp.topic, tp.partition, record.offset,
                  type(exc).__name__, extra={"reason_code": "invalid_message"})
        headers = [("origin_topic", tp.topic.encode()),
                   ("origin_partition", str(tp.partition).encode()),
                   ("origin_offset", str(record.offset).encode()),
                   ("error", str(exc)[:2000].encode())]
        await self.producer.send_and_wait(self.dlq_topic, record.value, key=record.key,
                                          headers=headers)
        self.metrics.commands.labels("dead_lettered").inc()
