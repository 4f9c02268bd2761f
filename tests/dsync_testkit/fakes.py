"""Small in-memory fakes for unit tests of the pipeline logic (the arroyo way): a broker
seen through the aiokafka consumer/producer surface dsync uses, and a PostgreSQL pool
that knows only the statements the pipeline pieces issue. No network, no timing."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aiokafka import ConsumerRecord, TopicPartition


def record(topic: str, partition: int, offset: int, value: bytes,
           key: bytes | None = None) -> ConsumerRecord:
    return ConsumerRecord(topic=topic, partition=partition, offset=offset, timestamp=0,
                          timestamp_type=0, key=key, value=value, checksum=None,
                          serialized_key_size=len(key or b""),
                          serialized_value_size=len(value), headers=[])


@dataclass
class FakeBroker:
    """Topics as lists of values per partition; what the consumers committed."""

    partitions: int = 2
    logs: dict[TopicPartition, list[bytes]] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    commit_calls: list[dict[TopicPartition, int]] = field(default_factory=list)
    failing_commits: int = 0
    lost_topics: bool = False

    def append(self, topic: str, partition: int, *values: bytes) -> None:
        self.logs.setdefault(TopicPartition(topic, partition), []).extend(values)

    def reset(self) -> None:
        """What a restart of the memory-only embedded broker does."""
        self.logs.clear()
        self.committed.clear()


class FakeConsumer:
    """The slice of `AIOKafkaConsumer` that `PipelineConsumer` calls."""

    def __init__(self, broker: FakeBroker, topic: str) -> None:
        self.broker = broker
        self.topic = topic
        self.listener: Any = None
        self.positions: dict[TopicPartition, int] = {}
        self.paused: set[TopicPartition] = set()
        self.started = self.stopped = False
        self.polls = 0

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.listener = listener

    async def start(self) -> None:
        self.started = True
        tps = [TopicPartition(self.topic, p) for p in range(self.broker.partitions)]
        for tp in tps:
            self.positions[tp] = self.broker.committed.get(tp, 0)
        await self.listener.on_partitions_assigned(tps)

    async def stop(self) -> None:
        self.stopped = True

    async def rebalance(self) -> None:
        """The group moved the partitions away and back (a new generation)."""
        tps = list(self.positions)
        await self.listener.on_partitions_revoked(tps)
        await self.listener.on_partitions_assigned(tps)

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None
                      ) -> dict[TopicPartition, list[ConsumerRecord]]:
        self.polls += 1
        await asyncio.sleep(0)
        out: dict[TopicPartition, list[ConsumerRecord]] = {}
        for tp, position in self.positions.items():
            log = self.broker.logs.get(tp, [])
            if tp in self.paused or position >= len(log):
                continue
            end = len(log) if max_records is None else min(len(log), position + max_records)
            out[tp] = [record(tp.topic, tp.partition, o, log[o]) for o in range(position, end)]
            self.positions[tp] = end
        return out

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.broker.failing_commits:
            self.broker.failing_commits -= 1
            from aiokafka.errors import KafkaError
            raise KafkaError("commit refused")
        self.broker.commit_calls.append(dict(offsets))
        self.broker.committed.update(offsets)

    def pause(self, *tps: TopicPartition) -> None:
        self.paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused -= set(tps)

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.broker.logs.get(tp, []))

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    async def topics(self) -> set[str]:
        return set() if self.broker.lost_topics else {self.topic}


@dataclass
class Sent:
    topic: str
    value: bytes
    key: bytes | None
    headers: list[tuple[str, bytes]]
    partition: int
    offset: int


@dataclass
class FakeMetadata:
    partition: int
    offset: int


class FakeProducer:
    """`send` / `send_and_wait` of `AIOKafkaProducer`, appending to a FakeBroker."""

    def __init__(self, broker: FakeBroker) -> None:
        self.broker = broker
        self.sent: list[Sent] = []

    def _partition(self, key: bytes | None, partition: int | None) -> int:
        if partition is not None:
            return partition
        return sum(key or b"") % self.broker.partitions

    async def send_and_wait(self, topic: str, value: bytes, *, key: bytes | None = None,
                            partition: int | None = None,
                            headers: list[tuple[str, bytes]] | None = None) -> FakeMetadata:
        p = self._partition(key, partition)
        tp = TopicPartition(topic, p)
        self.broker.append(topic, p, value)
        offset = len(self.broker.logs[tp]) - 1
        self.sent.append(Sent(topic, value, key, list(headers or []), p, offset))
        return FakeMetadata(p, offset)

    async def send(self, topic: str, value: bytes, *, key: bytes | None = None,
                   partition: int | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> asyncio.Future[Any]:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(await self.send_and_wait(topic, value, key=key, partition=partition,
                                                 headers=headers))
        return done


class FakeConnection:
    """Records statements; `consumed_events` dedupe is kept, and rolled back on error."""

    def __init__(self, pool: FakePool) -> None:
        self.pool = pool
        self.statements: list[str] = []
        self._pending: set[tuple[str, str]] = set()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self._pending = set()
        yield  # an exception propagates: nothing of this transaction is kept
        self.pool.consumed |= self._pending
        self.pool.committed_statements.extend(self.statements)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        if "consumed_events" in sql:
            consumer, ids = args
            fresh = [i for i in ids if (consumer, str(i)) not in self.pool.consumed
                     and (consumer, str(i)) not in self._pending]
            self._pending |= {(consumer, str(i)) for i in fresh}
            return [UUID(str(i)) for i in fresh]  # asyncpg returns uuid[] as UUIDs
        raise AssertionError(f"unexpected query: {sql}")

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append(sql)
        return "OK"


class FakePool:
    """`acquire()` of an asyncpg pool; `touched` counts acquisitions."""

    def __init__(self) -> None:
        self.consumed: set[tuple[str, str]] = set()
        self.committed_statements: list[str] = []
        self.touched = 0
        self.expired = 0

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        self.touched += 1
        yield FakeConnection(self)

    async def expire_connections(self) -> None:
        self.expired += 1

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        """Queries outside a transaction (e.g. the consumer's look for dead predecessors in
        `service_heartbeats`): nothing found."""
        return []
