"""The pipeline pieces against in-memory fakes (tests/dsync_testkit/fakes.py): the
consumer loop (order, one commit per poll, retry, rebalance, broker reset, rewind), the
outbox relay (order, marking, republish on a reset), exactly-once tracking of events and
the dead-letter policy of commands and events."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from dsync.messages.commands import CreateUser
from dsync.messages.events import CloudEvent, DraftEvent
from dsync.pipeline import consumer as consumer_module
from dsync.pipeline import relay as relay_module
from dsync.pipeline.consumer import PipelineConsumer
from dsync.pipeline.event_effects import TrackedEvents
from dsync.pipeline.relay import OutboxRelay, RelayMetrics
from dsync.settings import KafkaSettings
from dsync_services.directory import command_consumer
from dsync_services.directory.command_consumer import CommandHandler, DlqBreakerOpen
from dsync_services.directory.metrics import DirectoryMetrics
from dsync_testkit.fakes import (
    FakeBroker,
    FakeConsumer,
    FakePool,
    FakeProducer,
    record,
)

TOPIC = "t.commands"
SETTINGS = KafkaSettings(kafka_idle_pause=False, kafka_max_backoff_s=0.05)
WAIT_S = 10.0  # generous: the fakes answer at once; only a broken loop waits this long


async def eventually(check: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(WAIT_S):
        while not check():  # noqa: ASYNC110  (polls a plain predicate of the fakes)
            await asyncio.sleep(0.005)
    assert check(), what


class OnFakeBroker(PipelineConsumer):
    """PipelineConsumer whose aiokafka consumer is a FakeConsumer; keeps every one made."""

    def __init__(self, broker: FakeBroker, handler: Any, pool: Any = None) -> None:
        self.broker = broker
        self.made: list[FakeConsumer] = []
        super().__init__(SETTINGS, topic=TOPIC, group_id="g", service="test",
                         handler=handler, pool=pool)

    def _new_consumer(self) -> Any:
        self.made.append(FakeConsumer(self.broker, TOPIC))
        return self.made[-1]

    async def _report_heartbeats(self, stop: asyncio.Event) -> None:
        return None  # no database here

    async def _clear_heartbeat(self) -> None:
        return None


async def running(consumer: PipelineConsumer,
                  body: Callable[[], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await body()
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


def tp(partition: int) -> TopicPartition:
    return TopicPartition(TOPIC, partition)


async def test_records_reach_the_handler_in_order_and_one_commit_covers_the_poll() -> None:
    broker = FakeBroker(partitions=2)
    broker.append(TOPIC, 0, b"a", b"b", b"c")
    broker.append(TOPIC, 1, b"x", b"y")
    seen: dict[int, list[bytes]] = {0: [], 1: []}

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen[part.partition] += [r.value for r in records]

    consumer = OnFakeBroker(broker, handler)
    await running(consumer, lambda: eventually(
        lambda: broker.committed == {tp(0): 3, tp(1): 2}, "both partitions committed"))
    assert seen == {0: [b"a", b"b", b"c"], 1: [b"x", b"y"]}
    assert broker.commit_calls == [{tp(0): 3, tp(1): 2}]  # one request for the whole poll


async def test_a_failing_handler_is_retried_and_nothing_is_committed_past_it() -> None:
    broker = FakeBroker(partitions=1)
    broker.append(TOPIC, 0, b"a", b"b")
    attempts: list[int] = []

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        attempts.append(len(records))
        assert broker.committed == {}, "committed before the handler succeeded"
        if len(attempts) < 3:
            raise ConnectionError("database hiccup")

    pool = FakePool()
    consumer = OnFakeBroker(broker, handler, pool=pool)
    await running(consumer, lambda: eventually(lambda: broker.committed == {tp(0): 2},
                                               "committed after the third attempt"))
    assert attempts == [2, 2, 2]  # the same records each time
    assert pool.expired == 2      # connections a database crash broke are not reused


async def test_a_batch_fetched_before_a_rebalance_is_not_committed() -> None:
    broker = FakeBroker(partitions=1)
    broker.append(TOPIC, 0, b"a")
    handled = asyncio.Event()

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        await consumer.made[-1].rebalance()  # the group moved on while we applied
        handled.set()

    consumer = OnFakeBroker(broker, handler)

    async def body() -> None:
        await asyncio.wait_for(handled.wait(), WAIT_S)
        polls = consumer.made[-1].polls
        await eventually(lambda: consumer.made[-1].polls > polls + 3, "loop went on")

    await running(consumer, body)
    assert broker.committed == {}  # the partition's new owner reads it again


async def test_commits_that_keep_failing_make_the_consumer_rejoin_and_redo() -> None:
    broker = FakeBroker(partitions=1)
    broker.append(TOPIC, 0, b"0")
    broker.failing_commits = 3
    seen: list[bytes] = []

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen.extend(r.value for r in records)
        if len(seen) < 3:  # keep records coming, so there is something to commit
            broker.append(TOPIC, 0, str(len(seen)).encode())

    created: list[KafkaSettings] = []

    async def ensure_topics(settings: KafkaSettings) -> None:
        created.append(settings)

    consumer = OnFakeBroker(broker, handler)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(consumer_module, "ensure_topics", ensure_topics)
        await running(consumer, lambda: eventually(
            lambda: broker.committed.get(tp(0)) == 3, "all committed after rejoining"))
    assert len(consumer.made) == 2 and created  # rejoined with its topics recreated
    assert seen[:3] == [b"0", b"1", b"2"]
    assert set(seen[3:]) <= {b"0", b"1", b"2"}  # redelivery from the last commit: deduped


async def test_a_lost_topic_is_recreated_and_read_from_the_start() -> None:
    broker = FakeBroker(partitions=1)
    broker.append(TOPIC, 0, b"old")
    seen: list[bytes] = []

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen.extend(r.value for r in records)

    async def ensure_topics(settings: KafkaSettings) -> None:
        broker.lost_topics = False

    consumer = OnFakeBroker(broker, handler)

    async def body() -> None:
        await eventually(lambda: broker.committed == {tp(0): 1}, "old record committed")
        broker.reset()                 # the embedded broker restarted: logs and offsets gone
        broker.lost_topics = True
        broker.append(TOPIC, 0, b"new")
        await eventually(lambda: b"new" in seen, "reads the new log from its start")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(consumer_module, "TOPIC_CHECK_EVERY_S", 0.01)
        mp.setattr(consumer_module, "ensure_topics", ensure_topics)
        await running(consumer, body)
    assert seen == [b"old", b"new"] and len(consumer.made) == 2


async def test_a_position_past_the_end_of_the_log_is_rewound() -> None:
    broker = FakeBroker(partitions=1)
    broker.append(TOPIC, 0, b"1", b"2", b"3")
    seen: list[bytes] = []

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen.extend(r.value for r in records)

    consumer = OnFakeBroker(broker, handler)

    async def body() -> None:
        await eventually(lambda: len(seen) == 3, "first log read")
        broker.logs.clear()            # same topic, shorter log: position 3 is past its end
        broker.append(TOPIC, 0, b"a")
        await eventually(lambda: b"a" in seen, "rewound to the start")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(consumer_module, "REWIND_AFTER_S", 0.02)
        await running(consumer, body)
    assert seen == [b"1", b"2", b"3", b"a"]


# --- the outbox relay ---------------------------------------------------------------


class OutboxPool:
    """The outbox table as the relay sees it: rows of (id, tenant_id, event text)."""

    def __init__(self, rows: list[tuple[int, UUID, str]]) -> None:
        self.rows = {r[0]: {"id": r[0], "tenant_id": r[1], "event": r[2],
                            "published": False} for r in rows}

    async def fetch(self, sql: str, limit: int) -> list[dict[str, Any]]:
        assert "published_at IS NULL" in sql
        return [r for r in sorted(self.rows.values(), key=lambda r: r["id"])
                if not r["published"]][:limit]

    async def execute(self, sql: str, *args: Any) -> str:
        if "UPDATE outbox SET published_at = now()" in sql:
            for i in args[0]:
                self.rows[i]["published"] = True
        return "OK"

    async def fetchval(self, sql: str, *args: Any) -> Any:
        if "published_at = NULL" in sql:
            done = [r for r in self.rows.values() if r["published"]]
            for r in done:
                r["published"] = False
            return len(done)
        return None


class NoListener:
    def subscribe(self, channel: str, callback: Any) -> None:
        pass

    def on_connect(self, hook: Any) -> None:
        pass


def relay_over(pool: OutboxPool, broker: FakeBroker, kafka: KafkaSettings = SETTINGS
               ) -> tuple[OutboxRelay, FakeProducer]:
    producer = FakeProducer(broker)
    relay = OutboxRelay(dsn="unused", pool=pool, producer=producer,  # type: ignore[arg-type]
                        kafka=kafka, listener=NoListener(),  # type: ignore[arg-type]
                        metrics=RelayMetrics(CollectorRegistry()), fence_every_s=1e9)
    return relay, producer


async def test_the_relay_publishes_in_outbox_order_keyed_by_tenant_and_marks_them() -> None:
    a, b = uuid4(), uuid4()
    pool = OutboxPool([(1, a, '{"n":1}'), (2, b, '{"n":2}'), (3, a, '{"n":3}')])
    relay, producer = relay_over(pool, FakeBroker(partitions=4))
    assert await relay.publish_pending() == 3
    events = [s for s in producer.sent if s.topic == SETTINGS.events_topic]
    assert [s.value for s in events] == [b'{"n":1}', b'{"n":2}', b'{"n":3}']
    assert [s.key for s in events] == [str(t).encode() for t in (a, b, a)]
    assert all(r["published"] for r in pool.rows.values())
    assert await relay.publish_pending() == 0


async def test_the_relay_republishes_everything_when_the_broker_lost_its_log() -> None:
    """Only on the embedded broker (DSYNC_KAFKA_EMBEDDED_BROKER), whose memory log a
    restart loses; on Apache Kafka a regression is only logged and counted (below)."""
    tenant = uuid4()
    pool = OutboxPool([(1, tenant, '{"n":1}'), (2, tenant, '{"n":2}')])
    broker = FakeBroker(partitions=1)
    embedded = KafkaSettings(kafka_idle_pause=False, kafka_max_backoff_s=0.05,
                             kafka_embedded_broker=True)
    relay, producer = relay_over(pool, broker, embedded)

    async def ensure_topics(settings: KafkaSettings) -> None:
        return None

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(relay_module, "ensure_topics", ensure_topics)
        await relay.publish_pending()
        broker.reset()                                   # offsets start again at 0
        pool.rows[3] = {"id": 3, "tenant_id": tenant, "event": '{"n":3}', "published": False}
        await relay.publish_pending()                    # offset went back: republish all
        while await relay.publish_pending():
            pass
    log = broker.logs[TopicPartition(SETTINGS.events_topic, 0)]
    assert log[-3:] == [b'{"n":1}', b'{"n":2}', b'{"n":3}']  # the new log is whole, in order
    assert all(r["published"] for r in pool.rows.values())


async def test_on_apache_kafka_an_offset_regression_is_counted_not_republished() -> None:
    tenant = uuid4()
    pool = OutboxPool([(1, tenant, '{"n":1}'), (2, tenant, '{"n":2}')])
    broker = FakeBroker(partitions=1)
    relay, _ = relay_over(pool, broker)
    await relay.publish_pending()
    broker.reset()                                       # offsets start again at 0
    pool.rows[3] = {"id": 3, "tenant_id": tenant, "event": '{"n":3}', "published": False}
    while await relay.publish_pending():
        pass
    log = broker.logs[TopicPartition(SETTINGS.events_topic, 0)]
    assert log == [b'{"n":3}']                           # nothing old sent again
    assert relay.metrics.regressions._value.get() == 1
    assert all(r["published"] for r in pool.rows.values())


# --- exactly-once tracking of events, and the events DLQ ----------------------------


def event_bytes(event_type: str, tenant: UUID, sequence: int, *,
                event_id: UUID | None = None) -> bytes:
    return orjson.dumps({
        "specversion": "1.0", "id": str(event_id or uuid4()), "source": "/dsync",
        "type": event_type, "subject": f"users/{uuid4()}",
        "time": datetime.now(UTC).isoformat(), "tenantid": str(tenant),
        "sequence": sequence, "data": {}})


class Effects:
    def __init__(self, relevant_types: set[str], fail: bool = False) -> None:
        self.relevant_types = relevant_types
        self.fail = fail
        self.applied: list[list[int]] = []
        self.failed: list[str] = []

    def relevant(self, event_type: str, tenant_id: str) -> bool:
        return event_type in self.relevant_types

    async def apply(self, conn: Any, events: list[CloudEvent], emit: list[DraftEvent]) -> None:
        if self.fail:
            raise ConnectionError("database hiccup")
        self.applied.append([e.sequence for e in events])
        emit.append(DraftEvent(type="session.revoked", subject="users/x", data={}))

    async def on_failure(self, event: CloudEvent, exc: BaseException, pool: Any) -> None:
        self.failed.append(event.id)

    def on_applied(self, event: CloudEvent) -> None:
        pass


def tracked(effects: Effects, pool: FakePool, broker: FakeBroker,
            skipped: list[int]) -> tuple[TrackedEvents, FakeProducer]:
    producer = FakeProducer(broker)
    handler = TrackedEvents(pool=pool, name="sessions", effects=effects,  # type: ignore[arg-type]
                            producer=producer, dlq_topic="t.events.dlq",  # type: ignore[arg-type]
                            on_skipped=skipped.append)
    return handler, producer


EVENTS = TopicPartition("t.events", 0)


async def test_irrelevant_events_cost_no_database_work() -> None:
    tenant, pool, skipped = uuid4(), FakePool(), []
    handler, _ = tracked(Effects({"user.deactivated"}), pool, FakeBroker(), skipped)
    await handler(EVENTS, [record("t.events", 0, i, event_bytes("user.created", tenant, i))
                           for i in range(5)])
    assert pool.touched == 0 and skipped == [5]


async def test_a_redelivered_event_is_applied_once_with_its_emitted_events() -> None:
    tenant, pool = uuid4(), FakePool()
    effects = Effects({"user.deactivated"})
    handler, _ = tracked(effects, pool, FakeBroker(), [])
    ids = [uuid4(), uuid4()]
    batch = [record("t.events", 0, i, event_bytes("user.deactivated", tenant, i + 1,
                                                  event_id=ids[i])) for i in range(2)]
    await handler(EVENTS, batch)
    await handler(EVENTS, batch)  # redelivered after a crash before the offset commit
    assert effects.applied == [[1, 2]]
    assert sum("INSERT INTO outbox" in s for s in pool.committed_statements) == 1


async def test_a_failed_transaction_keeps_no_dedupe_rows_and_is_retried_whole() -> None:
    tenant, pool = uuid4(), FakePool()
    effects = Effects({"user.deactivated"}, fail=True)
    handler, _ = tracked(effects, pool, FakeBroker(), [])
    batch = [record("t.events", 0, 0, event_bytes("user.deactivated", tenant, 1))]
    with pytest.raises(ConnectionError):
        await handler(EVENTS, batch)
    assert len(effects.failed) == 1 and pool.consumed == set()
    effects.fail = False
    await handler(EVENTS, batch)  # the consumer's retry
    assert effects.applied == [[1]]


async def test_malformed_events_are_dead_lettered_with_their_origin() -> None:
    tenant, broker = uuid4(), FakeBroker()
    effects = Effects({"user.deactivated"})
    handler, producer = tracked(effects, FakePool(), broker, [])
    bad_type = orjson.loads(event_bytes("user.deactivated", tenant, 2))
    bad_type["sequence"] = "two"
    await handler(EVENTS, [record("t.events", 0, 7, b"{not json"),
                           record("t.events", 0, 8, orjson.dumps(bad_type)),
                           record("t.events", 0, 9, event_bytes("user.deactivated", tenant, 3))])
    dead = [s for s in producer.sent if s.topic == "t.events.dlq"]
    assert [dict(s.headers)["origin_offset"] for s in dead] == [b"7", b"8"]
    assert all(dict(s.headers)["consumer"] == b"sessions" for s in dead)
    assert effects.applied == [[3]]  # the good event after them is not held up


# --- the command DLQ policy ---------------------------------------------------------


def command_bytes() -> bytes:
    return CreateUser(command_id=uuid4(), tenant_id=uuid4(), issued_at=datetime.now(UTC),
                      resource={"userName": "ada"}).model_dump_json().encode()


async def command_handler(mp: pytest.MonkeyPatch, applied: list[list[bytes]],
                          max_consecutive: int = 100) -> tuple[CommandHandler, FakeProducer]:
    async def apply_batch(pool: Any, commands: list[tuple[Any, bytes]],
                          on_status: Any = None) -> None:
        applied.append([raw for _, raw in commands])

    mp.setattr(command_consumer, "apply_batch", apply_batch)
    producer = FakeProducer(FakeBroker())
    handler = CommandHandler(FakePool(), producer, "t.commands.dlq",  # type: ignore[arg-type]
                             DirectoryMetrics(CollectorRegistry()),
                             dlq_max_consecutive=max_consecutive)
    return handler, producer


async def test_poison_commands_are_dead_lettered_and_order_around_them_is_kept() -> None:
    applied: list[list[bytes]] = []
    first, last = command_bytes(), command_bytes()
    with pytest.MonkeyPatch.context() as mp:
        handler, producer = await command_handler(mp, applied)
        await handler(tp(0), [record(TOPIC, 0, 0, first), record(TOPIC, 0, 1, b'{"type":1}'),
                              record(TOPIC, 0, 2, last)])
    assert applied == [[first], [last]]  # what came before the poison went first
    (dead,) = producer.sent
    assert dead.topic == "t.commands.dlq" and dict(dead.headers)["origin_offset"] == b"1"


async def test_a_run_of_poison_opens_the_breaker_instead_of_draining_into_the_dlq() -> None:
    applied: list[list[bytes]] = []
    with pytest.MonkeyPatch.context() as mp:
        handler, producer = await command_handler(mp, applied, max_consecutive=2)
        with pytest.raises(DlqBreakerOpen):
            await handler(tp(0), [record(TOPIC, 0, i, b"garbage") for i in range(3)])
    assert len(producer.sent) == 2  # the third is held: the partition stops there



class WakeListener:
    """A connected LISTEN connection whose NOTIFYs the test sends by hand."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self.connected.set()
        self.callbacks: list[Callable[[str], None]] = []

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> None:
        self.callbacks.append(callback)

    def notify(self) -> None:
        for callback in self.callbacks:
            callback("")


async def test_a_wake_up_between_an_empty_poll_and_the_pause_is_not_lost() -> None:
    """The producer's record and NOTIFY land while the consumer's last (empty) poll is
    answered: the pause that follows must end at once, not at the idle check (30 s)."""
    broker = FakeBroker(partitions=1)
    listener = WakeListener()
    seen: list[bytes] = []

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen.extend(r.value for r in records)

    class RacingConsumer(FakeConsumer):
        armed = False

        async def getmany(self, timeout_ms: int = 0, max_records: int | None = None
                          ) -> dict[TopicPartition, list[ConsumerRecord]]:
            out = await super().getmany(timeout_ms, max_records)
            if self.armed and not out and consumer.clock.idle():  # it pauses next
                self.armed = False
                broker.append(TOPIC, 0, b"late")  # produced after this fetch was answered
                listener.notify()                  # ... and announced before the pause
            return out

    class Racing(OnFakeBroker):
        def _new_consumer(self) -> Any:
            self.made.append(RacingConsumer(self.broker, TOPIC))
            return self.made[-1]

    settings = KafkaSettings(kafka_idle_pause=True, kafka_idle_after_s=0.01,
                             kafka_idle_check_s=30, kafka_max_backoff_s=0.05)
    consumer = Racing(broker, handler)
    consumer.settings, consumer.listener = settings, listener  # type: ignore[assignment]
    consumer.clock.idle_after_s = settings.kafka_idle_after_s
    listener.subscribe("wake", lambda _p: consumer._wake.set())

    async def body() -> None:
        await eventually(lambda: any(c.paused for c in consumer.made), "paused when idle")
        racing = consumer.made[-1]
        assert isinstance(racing, RacingConsumer)
        listener.notify()  # wake it; its next empty poll races with the producer
        racing.armed = True
        await eventually(lambda: seen == [b"late"], "the late record handled at once")

    await running(consumer, body)


def notified_consumer(broker: FakeBroker, handler: Any, listener: WakeListener,
                      max_records: int = 500) -> OnFakeBroker:
    """A `notified` consumer (as the directory and the event consumers run) on the fakes."""
    settings = KafkaSettings(kafka_idle_pause=True, kafka_idle_after_s=0.01,
                             kafka_idle_check_s=30, kafka_max_backoff_s=0.05,
                             kafka_commit_interval_ms=0)
    consumer = OnFakeBroker(broker, handler)
    consumer.settings, consumer.listener = settings, listener  # type: ignore[assignment]
    consumer.notified, consumer.max_records = True, max_records
    consumer.clock.idle_after_s = settings.kafka_idle_after_s
    listener.subscribe("wake", lambda _p: consumer._wake.set())
    return consumer


async def test_a_notified_consumer_polls_twice_per_wake_up_and_then_pauses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "RECHECK_AFTER_PAUSE_S", 30.0)  # count wake-ups only
    broker, listener = FakeBroker(partitions=1), WakeListener()
    seen: list[bytes] = []

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen.extend(r.value for r in records)

    consumer = notified_consumer(broker, handler, listener)

    async def body() -> None:
        broker.append(TOPIC, 0, b"first")
        await eventually(lambda: seen == [b"first"], "the first record")
        await eventually(lambda: bool(consumer.made[-1].paused), "paused after it")
        polls = consumer.made[-1].polls
        for n in range(5):
            broker.append(TOPIC, 0, str(n).encode())
            listener.notify()  # the producer's NOTIFY, after its record is in the log
            await eventually(lambda n=n: seen[-1:] == [str(n).encode()], f"record {n}")
            await eventually(lambda: bool(consumer.made[-1].paused), "paused again")
        assert consumer.made[-1].polls - polls == 10  # per wake-up: the records, then empty
        assert broker.committed == {tp(0): 6}

    await running(consumer, body)


async def test_a_notified_consumer_drains_a_backlog_without_more_wake_ups() -> None:
    """It polls on until a poll finds nothing."""
    broker, listener = FakeBroker(partitions=1), WakeListener()
    seen: list[bytes] = []

    async def handler(part: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen.extend(r.value for r in records)

    consumer = notified_consumer(broker, handler, listener, max_records=2)

    async def body() -> None:
        broker.append(TOPIC, 0, b"a")
        await eventually(lambda: seen == [b"a"], "the first record")
        await eventually(lambda: bool(consumer.made[-1].paused), "paused after it")
        broker.append(TOPIC, 0, *[str(n).encode() for n in range(7)])
        listener.notify()  # one NOTIFY for the seven records
        await eventually(lambda: len(seen) == 8, "all seven taken, two per poll")

    await running(consumer, body)
