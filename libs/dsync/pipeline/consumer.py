"""`PipelineConsumer`: the one Kafka consumer loop of dsync (the arroyo shape, plain aiokafka).

Per poll: the records of each assigned partition are handed to the handler in offset
order, partitions side by side (one slow tenant partition does not hold up the others);
when every handler returned, the offsets of all of them are committed in ONE request, at
most once per `kafka_commit_interval_ms` while records flow (what is due is committed when
a poll finds nothing, before a pause, when partitions are revoked and at stop). Handlers
dedupe, so the few records a crash redelivers change nothing.
Handlers classify poison themselves (dead-letter and return); a handler that raises is
a transient failure: the same records are retried with `Backoff`, never committed past.

Fetching, two ways (see `idle`):
* `poll` (the command consumer, on the SCIM answer's path): long-poll with a short wait
  while records flow; after `kafka_idle_after_s` without a record pause the partitions
  (no fetch requests at all) until a NOTIFY on `wake_channel` (the gateway sends one
  after producing, coalesced), re-checking 100 ms after the pause and then every
  `kafka_idle_check_s`.
* `notified` (event consumers): fetch only when the producer says there is something to
  fetch (the relay NOTIFYs with every batch it published), drain until a poll finds
  nothing, pause again; at most one wake-up per `linger_ms`, so a busy stream is taken in
  larger batches. A fetch then nearly always returns records.
Each fetch's wait is chosen after the answer before it (`dsync.kafka.fetch_wait`): the
setting while caught up, a budget long enough for the embedded broker to read the log while
behind. The wake flag is cleared before each poll, so a NOTIFY during a poll or a batch is
never lost. Both fall back to plain long-polling while the LISTEN connection is down.
Broker reset (the embedded broker loses everything on restart): seen as the topic gone
from metadata or offset commits failing; the topics are created again and the consumer
rejoins. Liveness and assignment go to `service_heartbeats` for the gateway's /healthz,
with the group member id, written as soon as partitions are assigned: the process that
replaces a crashed one evicts the dead member at start (`predecessors`), so its partitions
move at once instead of after the session timeout.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from prometheus_client import CollectorRegistry, Gauge

from dsync.kafka.clients import build_consumer
from dsync.kafka.fetch_wait import (
    FetchWait,
    apply_fetch_wait,
    behind,
    buffered,
    on_fetch_answers,
    partition_states,
)
from dsync.kafka.topics import ensure_topics
from dsync.pipeline.backoff import Backoff
from dsync.pipeline.idle import IdleClock
from dsync.pipeline.listener import NotifyListener
from dsync.pipeline.predecessors import evict_dead_predecessors, this_instance
from dsync.process import wait_either
from dsync.settings import KafkaSettings

log = logging.getLogger(__name__)

PartitionHandler = Callable[[TopicPartition, list[ConsumerRecord]], Awaitable[None]]
"""Apply one partition's records in order. Raise only for transient failures."""

HEARTBEAT_EVERY_S = 4.0
TOPIC_CHECK_EVERY_S = 3.0
POLL_TIMEOUT_MS = 100
CHECK_MARGIN_MS = 10
DRAIN_MARGIN_MS = 2
RECHECK_AFTER_PAUSE_S = 0.1
REWIND_AFTER_S = 1.0


class BrokerReset(Exception):  # noqa: N818
    """The broker no longer has our topic or group: recreate topics and rejoin."""


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.partitions: set[TopicPartition] = set()
        self.generation = 0
        self.changed = asyncio.Event()
        self.before_revoke: Callable[[], Awaitable[None]] | None = None
        """Commits the offsets still due while the partitions are ours."""

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if self.before_revoke is not None:
            await self.before_revoke()
        self.partitions -= set(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.partitions |= set(assigned)
        self.generation += 1
        self.changed.set()
        log.info("assigned partitions %s (generation %d)",
                 sorted(tp.partition for tp in assigned), self.generation)


class PipelineConsumer:
    """Consume `topic` in group `group_id`, calling `handler(tp, records)` (module doc)."""

    def __init__(self, settings: KafkaSettings, *, topic: str, group_id: str, service: str,
                 handler: PartitionHandler, pool: asyncpg.Pool | None = None,
                 listener: NotifyListener | None = None, wake_channel: str | None = None,
                 fetch_max_wait_ms: int | None = None, max_records: int = 500,
                 notified: bool = False, linger_ms: int = 0) -> None:
        self.settings = settings
        self.topic = topic
        self.group_id = group_id
        self.service = service
        self.handler = handler
        self.pool = pool
        self.listener = listener
        self.fetch_max_wait_ms = fetch_max_wait_ms or settings.kafka_fetch_max_wait_ms
        self.fetch_wait = FetchWait(self.fetch_max_wait_ms)
        """The wait of the next fetch: the setting while caught up, a budget learned from
        the broker's short answers while behind (`dsync.kafka.fetch_wait`)."""
        self.max_records = max_records
        self.notified = notified
        self.linger_s = linger_ms / 1000
        self._woken_at = float("-inf")
        self._drained = False
        self._checking = False
        """The next poll is the idle check of a paused consumer (no NOTIFY came)."""
        self._rechecked = False
        """The quick check after a pause was made; the next ones wait `idle_check_s`."""
        self._settled = False
        """Records came, or a quiet spell passed, since the last assignment (`_may_pause`)."""
        self._polled_generation = 0
        self.instance = this_instance()
        self.assignment = _Assignment()
        self.assignment.before_revoke = self._commit_before_revoke
        self.clock = IdleClock(settings.kafka_idle_after_s)
        self._wake = asyncio.Event()
        self._commit_failures = 0
        self._due: dict[TopicPartition, int] = {}
        """Offsets handled but not committed yet (`kafka_commit_interval_ms`)."""
        self._committed_at = float("-inf")
        self._past_end: dict[TopicPartition, float] = {}
        self._rewind_checked_at = float("-inf")
        self.consumer = self._new_consumer()
        self.running = False
        """True while the consume loop runs (joined, or joining, its group): readiness."""
        self.lag = 0
        """Records behind the end of the partitions this instance holds, measured with each
        heartbeat from the last fetch's high watermark (`dsync_consumer_lag`)."""
        if listener is not None and wake_channel is not None:
            listener.subscribe(wake_channel, lambda _payload: self._wake.set())

    def _new_consumer(self) -> AIOKafkaConsumer:
        return build_consumer(self.settings, group_id=self.group_id,
                              client_id=f"{self.service}-{os.getpid()}",
                              fetch_max_wait_ms=self.fetch_max_wait_ms,
                              max_poll_records=self.max_records)

    @property
    def assigned(self) -> bool:
        return bool(self.assignment.partitions)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then leave the group cleanly."""
        if self.pool is not None:
            await evict_dead_predecessors(self.pool, self.settings.kafka_bootstrap,
                                          self.service, self.group_id)
        heartbeat = asyncio.create_task(self._report_heartbeats(stop))
        try:
            while not stop.is_set():
                try:
                    await self._consume(stop)
                except BrokerReset as reset:
                    log.warning("rejoining after broker reset: %s", reset)
                    self.assignment.partitions.clear()
                    await _ensure_topics_retrying(self.settings, stop)
                    self.consumer = self._new_consumer()
        finally:
            heartbeat.cancel()
            await self._clear_heartbeat()

    async def _consume(self, stop: asyncio.Event) -> None:
        self._commit_failures = 0
        self._due.clear()  # offsets of a group joined before (a broker reset) mean nothing now
        self.consumer.subscribe([self.topic], listener=self.assignment)
        await self.consumer.start()
        apply_fetch_wait(self.consumer, self.fetch_wait.ms)
        on_fetch_answers(self.consumer, self._on_fetch_answer)
        self.running = True
        watchdog = asyncio.create_task(self._watch_topic(stop))
        pause = False
        try:
            while not stop.is_set():
                if watchdog.done():
                    watchdog.result()  # raises BrokerReset
                if self._commit_failures >= 3:
                    raise BrokerReset("offset commits keep failing")
                if pause:
                    await self._pause_until_woken(stop)  # returns resumed
                # A wake-up from now on means records this poll may not see: it must stop
                # the pause that follows (cleared here, not when pausing, or a NOTIFY that
                # lands between an empty poll and the pause would be lost).
                self._wake.clear()
                try:
                    batches = await self.consumer.getmany(timeout_ms=self._poll_timeout_ms(),
                                                          max_records=self.max_records)
                except KafkaError as exc:
                    log.warning("fetch failed: %s", exc)
                    await asyncio.sleep(0.5)
                    pause = False
                    continue
                is_behind = self._after_poll()
                # Drained only by a poll that found nothing: records a poll returns may come
                # from a fetch sent before the last wake-up (aiokafka fetches ahead), so
                # only an empty answer to a later fetch says nothing is left (and not one
                # that left a partition behind the end the broker reported).
                self._drained = not batches and not is_behind
                pause = self._may_pause()
                if pause:
                    self.consumer.pause(*self.consumer.assignment())  # no fetch from now
                await self._rewind_past_end(batches)
                if not batches:
                    await self._commit_due()
                    continue
                self.clock.saw_records()
                self._rechecked = False
                generation = self.assignment.generation
                done = await asyncio.gather(*(self._process(tp, records, stop)
                                              for tp, records in batches.items()))
                # A batch fetched under an earlier assignment (maybe from a topic the broker
                # has lost since) must not commit into the group as it is now: the owner
                # reads from the committed offset again; handlers dedupe.
                fresh = generation == self.assignment.generation
                self._due.update({tp: records[-1].offset + 1 for (tp, records), ok
                                  in zip(batches.items(), done, strict=True)
                                  if ok and fresh and tp in self.assignment.partitions})
                if time.monotonic() - self._committed_at >= self._commit_interval_s:
                    await self._commit_due()
                # Quiet time counts from the end of the batch: a batch that took long (a
                # database stall) must not look like a quiet spell, or the consumer would
                # pause while busy producers (which send no wake-up) wait for it.
                self.clock.saw_records()
        finally:
            self.running = False
            watchdog.cancel()
            with contextlib.suppress(Exception):  # best effort: what is lost is redelivered
                await asyncio.wait_for(self._commit_due(), 2.0)
            try:
                await self.consumer.stop()
            except KafkaError as exc:
                log.warning("consumer stop failed: %s", exc)

    async def _rewind_past_end(self, fetched: dict[TopicPartition, list[ConsumerRecord]]
                               ) -> None:
        """Apache Kafka answers a fetch past a partition's end with OffsetOutOfRange and the
        consumer resets to `earliest`; the embedded broker answers with nothing. A position
        from a topic lost since (broker restart) would then hold the partition until the
        new log grows past it: read it from the start instead (handlers dedupe). Only when
        it lasts 1 s, as the reported end can lag a moment after a topic is created."""
        now = time.monotonic()
        if now - self._rewind_checked_at < REWIND_AFTER_S / 2:
            return  # off the per-poll path: the condition must last REWIND_AFTER_S anyway
        self._rewind_checked_at = now
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)  # from the last fetch response
            if end is None or tp in fetched:
                self._past_end.pop(tp, None)
                continue
            try:
                position = await asyncio.wait_for(self.consumer.position(tp), 1.0)
            except (KafkaError, TimeoutError):
                continue
            if position <= end:
                self._past_end.pop(tp, None)
            elif now - self._past_end.setdefault(tp, now) >= REWIND_AFTER_S \
                    and tp in self.consumer.assignment():
                log.warning("%s[%d]: position %d is past the end %d; reading from the start",
                            tp.topic, tp.partition, position, end)
                self.consumer.seek(tp, 0)  # no retention on the embedded broker
                self._past_end.pop(tp, None)

    def _on_fetch_answer(self) -> None:
        """After each fetch answer, before the next request: the wait to ask for next
        (`dsync.kafka.fetch_wait`)."""
        left = behind(partition_states(self.consumer))
        self.fetch_wait.after_answer(is_behind=bool(left),
                                     short=bool(left - buffered(self.consumer)))
        apply_fetch_wait(self.consumer, self.fetch_wait.ms)

    def _after_poll(self) -> bool:
        """After a poll: whether a partition is left behind the end the broker reported;
        sets the wait of the next fetch accordingly (`dsync.kafka.fetch_wait`)."""
        is_behind = bool(behind(partition_states(self.consumer)))
        self.fetch_wait.after_poll(is_behind=is_behind)
        apply_fetch_wait(self.consumer, self.fetch_wait.ms)
        return is_behind

    def _poll_timeout_ms(self) -> int:
        wait_ms = self.fetch_wait.ms
        if self._checking:  # the idle check: one fetch's worth, not a 100 ms burst of them
            self._checking = False
            return wait_ms + CHECK_MARGIN_MS
        if self.notified and self._listening():
            # A woken consumer drains what is there, then pauses. The empty answer that ends
            # the drain must come from a fetch sent after this poll began (one in flight may
            # predate the NOTIFY it answers): two fetch waits and a little more. A late
            # answer on a loaded machine is covered by the re-check 100 ms after a pause.
            return 2 * wait_ms + DRAIN_MARGIN_MS
        return POLL_TIMEOUT_MS

    def _listening(self) -> bool:
        return (self.settings.kafka_idle_pause and self.listener is not None
                and self.listener.connected.is_set())

    def _may_pause(self) -> bool:
        """After a poll: whether to pause until the next wake-up. Only with partitions to
        pause, and not for a quiet spell after an assignment (what producers made while
        nobody owned the partitions is waiting, and its NOTIFYs went to nobody): until then
        the consumer polls. A `notified` consumer then pauses after every poll that left
        nothing behind; a `poll` one after `kafka_idle_after_s` without a record."""
        if not self._listening() or not self.assignment.partitions:
            return False
        if self.assignment.generation != self._polled_generation:
            self._polled_generation = self.assignment.generation
            self.clock.saw_records()
            self._settled = False
            return False
        if not self._settled:  # the fetcher has answered since the assignment, or 1 s passed
            if self._drained and not self.clock.idle():
                return False
            self._settled = True
        return self._drained if self.notified else self.clock.idle()

    async def _pause_until_woken(self, stop: asyncio.Event) -> None:
        """No fetches until a wake NOTIFY (then stay busy for a while) or the idle check."""
        self.consumer.pause(*self.consumer.assignment())
        # Offsets still due are committed when their interval is up, unless a wake-up comes
        # first (a consumer that pauses between every few records commits no more often
        # than a busy one; a quiet one within the interval).
        if self._due:
            left_s = self._committed_at + self._commit_interval_s - time.monotonic()
            if left_s > 0:
                await wait_either(stop, self._wake, left_s)
            if not self._wake.is_set():
                await self._commit_due()
        # The first check comes soon after a pause (a fetch answer that came too late for
        # its poll on a loaded machine), later ones every `kafka_idle_check_s`.
        wait_s = self.settings.kafka_idle_check_s
        if not self._rechecked:
            wait_s = min(wait_s, RECHECK_AFTER_PAUSE_S)
        if not self._wake.is_set():
            await wait_either(stop, self._wake, wait_s)
        self._rechecked = not self._wake.is_set()
        if self._wake.is_set():
            self.clock.saw_records()  # the message may reach the broker after the NOTIFY
            # Batching: at most one wake-up per linger; what arrives meanwhile comes along.
            now = time.monotonic()
            if now - self._woken_at < self.linger_s:
                await asyncio.sleep(self._woken_at + self.linger_s - now)
            self._woken_at = time.monotonic()
        self._drained = False
        self._checking = not self._wake.is_set()
        self.consumer.resume(*self.consumer.assignment())

    async def _process(self, tp: TopicPartition, records: list[ConsumerRecord],
                       stop: asyncio.Event) -> bool:
        """Run the handler until it succeeds; False if the partition moved or we stop."""
        backoff = Backoff(cap_s=self.settings.kafka_max_backoff_s)
        while True:
            try:
                await self.handler(tp, records)
            except Exception:
                if stop.is_set():
                    return False
                delay = backoff.next()
                log.exception("handler failed on %s[%d]@%d; retrying in %.2fs",
                              tp.topic, tp.partition, records[0].offset, delay)
                if self.pool is not None:  # connections may be left broken by a DB crash
                    await self.pool.expire_connections()
                await asyncio.sleep(delay)
                if tp not in self.assignment.partitions:
                    return False  # moved to another member: it will redo the batch
            else:
                return True

    async def _commit_before_revoke(self) -> None:
        """Short: a rebalance waits for it; what does not make it is redelivered (deduped)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._commit_due(), 1.0)

    @property
    def _commit_interval_s(self) -> float:
        return self.settings.kafka_commit_interval_ms / 1000

    async def _commit_due(self) -> None:
        """Commit the handled offsets of the partitions this member still holds."""
        due = {tp: offset for tp, offset in self._due.items()
               if tp in self.assignment.partitions}
        self._due.clear()
        self._committed_at = time.monotonic()
        if not await self._commit(due):
            for tp, offset in due.items():  # due again at the next chance, unless passed
                self._due.setdefault(tp, offset)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> bool:
        if not offsets:
            return True
        try:
            # aiokafka retries "retriable" commit errors forever (after a broker reset:
            # UnknownTopicOrPartition); bound it so the loop can notice and rejoin.
            await asyncio.wait_for(self.consumer.commit(offsets), 5.0)
        except (CommitFailedError, KafkaError, TimeoutError) as exc:
            # Redelivery after a failed commit is harmless: handlers dedupe.
            self._commit_failures += 1
            log.warning("offset commit failed on %s: %s", self.topic, exc)
            return False
        self._commit_failures = 0
        return True

    async def _watch_topic(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(TOPIC_CHECK_EVERY_S)
            try:  # the consumer's own connection: no admin client per check
                topics = await self.consumer.topics()
            except KafkaError:
                continue  # broker unreachable: the client keeps retrying by itself
            if self.topic not in topics:
                raise BrokerReset(f"topic {self.topic} is gone")

    async def _report_heartbeats(self, stop: asyncio.Event) -> None:
        if self.pool is None:
            return
        while not stop.is_set():
            self.assignment.changed.clear()
            parts = sorted(tp.partition for tp in self.assignment.partitions)
            self.lag = await self._measure_lag()
            try:
                await self.pool.execute(
                    "INSERT INTO service_heartbeats (service, instance, topic, partitions, "
                    "group_id, member_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, now())"
                    " ON CONFLICT (service, instance) DO UPDATE SET topic = $3,"
                    " partitions = $4, group_id = $5, member_id = $6, updated_at = now()",
                    self.service, self.instance, self.topic, parts, self.group_id,
                    self._member_id())
            except Exception as exc:  # noqa: BLE001 - reporting must outlive any failure
                log.warning("heartbeat write failed: %s: %s", type(exc).__name__, exc)
            await wait_either(stop, self.assignment.changed, HEARTBEAT_EVERY_S)

    def _member_id(self) -> str | None:
        """The group member id (aiokafka keeps it on its coordinator; no public API)."""
        coordinator = getattr(self.consumer, "_coordinator", None)
        member = getattr(coordinator, "member_id", "")
        return member or None

    async def _measure_lag(self) -> int:
        """Sum over held partitions of high watermark minus position (0 when unknown)."""
        if not self.running:
            return 0
        behind = 0
        for tp in list(self.assignment.partitions):
            end = self.consumer.highwater(tp)
            if end is None:
                continue
            try:
                position = await asyncio.wait_for(self.consumer.position(tp), 1.0)
            except (KafkaError, TimeoutError, IllegalStateError):
                continue
            behind += max(0, end - position)
        return behind

    async def _clear_heartbeat(self) -> None:
        if self.pool is None:
            return
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await self.pool.execute(
                "DELETE FROM service_heartbeats WHERE service = $1 AND instance = $2",
                self.service, self.instance)


def consumer_checks(consumer: PipelineConsumer | None) -> dict[str, str]:
    """Readiness of a consumer service: its consume loop runs. A replica that holds no
    partition (more replicas than partitions) is still ready: it takes over on a rebalance."""
    running = consumer is not None and consumer.running
    return {"consumer": "ok" if running else "not started"}


def export_lag(consumer: PipelineConsumer, registry: CollectorRegistry) -> None:
    """`dsync_consumer_lag{service, group, topic}`: records this instance is behind;
    `dsync_consumer_fetch_wait_ms{...}`: the wait it asks for while behind (`fetch_wait`)."""
    labels = (consumer.service, consumer.group_id, consumer.topic)
    Gauge("dsync_consumer_lag", "Records behind the end of the partitions this instance"
          " holds (high watermark of the last fetch minus position)",
          ["service", "group", "topic"], registry=registry).labels(
        *labels).set_function(lambda: consumer.lag)
    Gauge("dsync_consumer_fetch_wait_ms", "Fetch wait this instance asks for while it has"
          " records to read: its setting, raised while the broker answers fetches short",
          ["service", "group", "topic"], registry=registry).labels(
        *labels).set_function(lambda: consumer.fetch_wait.budget_ms)


def consumer_details(consumer: PipelineConsumer | None) -> dict[str, object]:
    """What /healthz shows beside readiness: the partitions this instance holds."""
    parts = [] if consumer is None else sorted(tp.partition for tp in
                                               consumer.assignment.partitions)
    return {"partitions": parts}


async def _ensure_topics_retrying(settings: KafkaSettings, stop: asyncio.Event) -> None:
    backoff = Backoff(first_s=0.5, cap_s=5.0)
    while not stop.is_set():
        try:
            await ensure_topics(settings)
        except KafkaError as exc:
            log.warning("cannot create topics yet: %s", exc)
            await asyncio.sleep(backoff.next())
        else:
            return
