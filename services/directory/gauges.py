"""The directory's sampled gauges: outbox backlog and age, failing operations in the ledger,
and the records waiting in the dead-letter topics (docs/deploy.md#metrics)."""
from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge

from dsync.kafka.clients import build_reader
from dsync.settings import KafkaSettings

OUTBOX_SQL = ("SELECT count(*) AS backlog, coalesce(extract(epoch FROM now() - min(created_at)),"
              " 0)::float8 AS oldest FROM outbox WHERE published_at IS NULL")
FAILING_SQL = ("SELECT status, coalesce(reason_code, 'none') AS reason_code, count(*) AS n"
               " FROM operations WHERE status IN ('failed', 'dead') GROUP BY 1, 2")


@dataclass
class DirectoryGauges:
    """Set by `sample()`. `backlog` is the relay's `dsync_outbox_backlog` gauge."""

    registry: CollectorRegistry
    backlog: Gauge
    oldest: Gauge = field(init=False)
    failing: Gauge = field(init=False)
    dlq: Gauge = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.oldest = Gauge("dsync_outbox_oldest_unpublished_seconds",
                            "Age of the oldest event not yet published (0 when none)",
                            registry=r)
        self.failing = Gauge("dsync_operations_failing",
                             "Ledger operations in status failed or dead, by reason code",
                             ["status", "reason_code"], registry=r)
        self.dlq = Gauge("dsync_dlq_records", "Records in a dead-letter topic", ["topic"],
                         registry=r)

    def set_outbox(self, backlog: int, oldest_s: float) -> None:
        self.backlog.set(backlog)
        self.oldest.set(oldest_s)

    def set_failing(self, rows: list[tuple[str, str, int]]) -> None:
        """(status, reason_code, count) rows; a reason that is gone drops to 0, not stale."""
        for labels in list(self._failing_labels()):
            self.failing.labels(*labels).set(0)
        for status, reason, count in rows:
            self.failing.labels(status, reason).set(count)

    def _failing_labels(self) -> set[tuple[str, str]]:
        return {(s.labels["status"], s.labels["reason_code"])
                for metric in self.failing.collect() for s in metric.samples}


class DirectorySampler:
    """Reads the outbox and ledger (PostgreSQL) and the DLQ topics' offsets (Kafka)."""

    def __init__(self, pool: asyncpg.Pool, kafka: KafkaSettings, gauges: DirectoryGauges) -> None:
        self.pool, self.kafka, self.gauges = pool, kafka, gauges
        self._reader: AIOKafkaConsumer | None = None

    async def sample(self) -> None:
        row = await self.pool.fetchrow(OUTBOX_SQL)
        assert row is not None  # an aggregate without GROUP BY returns one row
        self.gauges.set_outbox(row["backlog"], row["oldest"])
        rows = await self.pool.fetch(FAILING_SQL)
        self.gauges.set_failing([(r["status"], r["reason_code"], r["n"]) for r in rows])
        await self._sample_dlq()

    async def _sample_dlq(self) -> None:
        if self._reader is None:
            self._reader = build_reader(self.kafka)
            await self._reader.start()
        for topic in (self.kafka.commands_dlq_topic, self.kafka.events_dlq_topic):
            tps = [TopicPartition(topic, p)
                   for p in sorted(self._reader.partitions_for_topic(topic) or {0})]
            ends = await self._reader.end_offsets(tps)
            starts = await self._reader.beginning_offsets(tps)
            self.gauges.dlq.labels(topic).set(sum(ends[tp] - starts[tp] for tp in tps))

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.stop()


__all__ = ["DirectoryGauges", "DirectorySampler"]
