"""The directory's partition handler: decode each record (poison -> dead letter), then
apply the batch's commands in order in one transaction."""
from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from dsync.messages.commands import Command, parse_command
from dsync_services.directory.apply_commands import apply_batch
from dsync_services.directory.metrics import DirectoryMetrics

log = logging.getLogger(__name__)


class CommandHandler:
    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, dlq_topic: str,
                 metrics: DirectoryMetrics) -> None:
        self.pool = pool
        self.producer = producer
        self.dlq_topic = dlq_topic
        self.metrics = metrics

    async def __call__(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        commands: list[tuple[Command, dict[str, Any]]] = []
        for record in records:
            try:
                command = parse_command(record.value)
            except (ValidationError, ValueError) as exc:
                await self._dead_letter(tp, record, exc)
                continue
            commands.append((command, json.loads(record.value)))
        if not commands:
            return
        with self.metrics.batch_seconds.time():
            await apply_batch(self.pool, commands, self._count)
        self.metrics.batch_size.observe(len(commands))

    def _count(self, status: str) -> None:
        self.metrics.commands.labels(status).inc()

    async def _dead_letter(self, tp: TopicPartition, record: ConsumerRecord,
                           exc: Exception) -> None:
        """Copy a malformed record to the DLQ with its origin; it is never retried."""
        log.error("poison command at %s[%d]@%d: %s", tp.topic, tp.partition, record.offset,
                  type(exc).__name__, extra={"reason_code": "invalid_message"})
        headers = [("origin_topic", tp.topic.encode()),
                   ("origin_partition", str(tp.partition).encode()),
                   ("origin_offset", str(record.offset).encode()),
                   ("error", str(exc)[:2000].encode())]
        await self.producer.send_and_wait(self.dlq_topic, record.value, key=record.key,
                                          headers=headers)
        self.metrics.commands.labels("dead_lettered").inc()
