"""`OutboxRelay`: publishes committed outbox events to `dsync.events`, in order per tenant.

Any process may host it (the directory does by default); one relay is active at a time.
Leadership is a PostgreSQL advisory lock taken by a *blocking* `pg_advisory_lock` on the
relay's own connection: a standby waits inside PostgreSQL at no cost, and the lock is
released the moment the leader's connection dies (SIGKILL included), not after a timer.
A leader whose connection silently vanished is dropped by PostgreSQL within ~11 s (TCP
keepalives, `dsync.db.pool.OWNER_SESSION_SETTINGS`); the leader itself pings its
connection at least every `HEARTBEAT_S` (bounded by HEARTBEAT_TIMEOUT_S) and steps down at
the first failure, before a standby can take over.

The leader wakes on `NOTIFY dsync_outbox` (and polls every `poll_s` as a fallback), reads
up to BATCH unpublished events in outbox order as raw JSON text (no decode/encode), sends
them (structured mode, with the CloudEvents Kafka binding headers of
`dsync.messages.kafka_binding`, the attributes extracted by PostgreSQL), and marks them
published in one statement. After a crash an event may be
published again (at-least-once): consumers dedupe by event `id`.

Broker resets (the embedded broker keeps topics in memory): a partition's offset that
goes backwards, or a fence record (written at most every `fence_every_s` while events
flow, and when leadership starts) whose offset went backwards, means the broker lost its
topics. With `kafka_embedded_broker` every retained event is then published again, in
outbox order; consumers that follow docs/events.md (apply `last + 1`, wait at a gap) see
each event in order. On Apache Kafka (the default) a regression is never repaired by the
relay: it is logged as an error and counted in `dsync_outbox_offset_regressions_total`,
which an alert rule pages on (deploy/prometheus/).
Marking a batch published also NOTIFYs `dsync_events_wake` (same statement): event
consumers fetch only when told there is something to fetch (see `consumer`, `idle`).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter, Gauge

from dsync.db import DbConnection
from dsync.db.pool import connect
from dsync.kafka.topics import ensure_topics
from dsync.messages.kafka_binding import ATTRIBUTES, ce_headers
from dsync.pipeline import channels
from dsync.pipeline.backoff import Backoff
from dsync.pipeline.listener import NotifyListener
from dsync.process import sleep_or_stop, wait_either
from dsync.settings import KafkaSettings

log = logging.getLogger(__name__)
LEADER_LOCK = 0x6F7574626F78  # "outbox"
BATCH = 500
HEARTBEAT_S = 1.0
HEARTBEAT_TIMEOUT_S = 2.0

_PENDING = ("SELECT id, tenant_id, event::text AS event, "
            + ", ".join(f"event->>'{a}' AS ce_{a}" for a in ATTRIBUTES)
            + " FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1")
"""Unpublished events as raw JSON text, with their context attributes for the headers."""
_MARK_AND_WAKE = ("WITH m AS (UPDATE outbox SET published_at = now() WHERE"
                  f" id = ANY($1::bigint[])) SELECT pg_notify('{channels.EVENTS_WAKE}', '')")


@dataclass
class RelayMetrics:
    registry: CollectorRegistry
    published: Counter = field(init=False)
    backlog: Gauge = field(init=False)
    resets: Counter = field(init=False)
    regressions: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.published = Counter("dsync_outbox_events_published_total",
                                 "Events published from the outbox", registry=self.registry)
        self.backlog = Gauge("dsync_outbox_backlog",
                             "Unpublished outbox events (sampled every DSYNC_METRICS_SAMPLE_S)",
                             registry=self.registry)
        self.resets = Counter("dsync_outbox_broker_resets_total",
                              "Broker resets detected (every retained event republished)",
                              registry=self.registry)
        self.regressions = Counter(
            "dsync_outbox_offset_regressions_total",
            "Offsets of dsync.events or the fence that went backwards on a non-embedded broker"
            " (logged and alerted, not repaired)", registry=self.registry)


class OutboxRelay:
    def __init__(self, *, dsn: str, pool: asyncpg.Pool, producer: AIOKafkaProducer,
                 kafka: KafkaSettings, listener: NotifyListener, metrics: RelayMetrics,
                 poll_s: float = 5.0, fence_every_s: float = 5.0) -> None:
        self.dsn = dsn
        self.pool = pool
        self.producer = producer
        self.kafka = kafka
        self.topic = kafka.events_topic
        self.metrics = metrics
        self.poll_s = poll_s
        self.fence_every_s = fence_every_s
        self._wake = asyncio.Event()
        self._offsets: dict[int, int] = {}
        self._fence: int | None = None
        self._fenced_at = float("-inf")
        self._pinged = 0.0
        listener.subscribe(channels.OUTBOX, lambda _payload: self._wake.set())
        listener.on_connect(self._wake.set)  # catch up on NOTIFYs missed while down

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop`; reconnects after database or broker errors."""
        backoff = Backoff(first_s=0.5, cap_s=5.0)
        while not stop.is_set():
            try:
                await self._lead(stop)
                backoff.reset()
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any failure
                log.warning("outbox relay error, restarting: %s: %s", type(exc).__name__, exc)
                await self.pool.expire_connections()
                await sleep_or_stop(stop, backoff.next())

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await connect(self.dsn)
        try:
            if not await self._acquire(conn, stop):
                return
            self._offsets.clear()
            self._fence = await self.pool.fetchval(
                "SELECT fence_offset FROM relay_state WHERE id = 1")
            if await self._check_fence():
                await self._on_regression("fence offset")
            self._pinged = time.monotonic()
            while not stop.is_set():
                self._wake.clear()
                published = await self.publish_pending()
                if published and published < BATCH and self.kafka.relay_linger_ms:
                    await asyncio.sleep(self.kafka.relay_linger_ms / 1000)  # batch up
                if published < BATCH and not self._wake.is_set():
                    await self._wait_pinging(conn, stop)
                await self._ping_if_due(conn)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _wait_pinging(self, conn: DbConnection, stop: asyncio.Event) -> None:
        """Wait for a wake-up (at most `poll_s`), checking the leader connection meanwhile."""
        deadline = time.monotonic() + self.poll_s
        while not stop.is_set() and not self._wake.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await wait_either(stop, self._wake, min(left, HEARTBEAT_S))
            await self._ping_if_due(conn)

    async def _ping_if_due(self, conn: DbConnection) -> None:
        """Raise when the leader connection is gone or a ping of it times out (step down)."""
        if conn.is_closed():
            raise asyncpg.InterfaceError("relay leader connection lost")
        if time.monotonic() - self._pinged >= HEARTBEAT_S:
            await conn.fetchval("SELECT 1", timeout=HEARTBEAT_TIMEOUT_S)
            self._pinged = time.monotonic()

    async def _acquire(self, conn: DbConnection, stop: asyncio.Event) -> bool:
        """Block in PostgreSQL until the leader lock is ours; False when stopping."""
        lock = asyncio.ensure_future(conn.execute("SELECT pg_advisory_lock($1)", LEADER_LOCK))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([lock, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if lock.done():
            lock.result()  # raises on a connection error
            return True
        lock.cancel()
        return False

    async def publish_pending(self) -> int:
        """Publish up to BATCH unpublished events in outbox order; mark them published."""
        rows = await self.pool.fetch(_PENDING, BATCH)
        if not rows:
            return 0
        futures = [await self.producer.send(self.topic, r["event"].encode(),
                                            key=str(r["tenant_id"]).encode(),
                                            headers=ce_headers(r, prefix="ce_")) for r in rows]
        sent = await asyncio.gather(*futures)
        went_back = False
        for md in sent:
            last = self._offsets.get(md.partition)
            went_back |= last is not None and md.offset <= last
            self._offsets[md.partition] = md.offset
        if went_back or await self._fence_due_and_went_back():
            if await self._on_regression("partition offset" if went_back else "fence offset"):
                return BATCH
        await self.pool.execute(_MARK_AND_WAKE, [r["id"] for r in rows])
        self.metrics.published.inc(len(rows))
        return len(rows)

    async def _fence_due_and_went_back(self) -> bool:
        if time.monotonic() - self._fenced_at < self.fence_every_s:
            return False
        return await self._check_fence()

    async def _check_fence(self) -> bool:
        """Write a fence record; True if its offset went backwards (a broker reset)."""
        self._fenced_at = time.monotonic()
        md = await self.producer.send_and_wait(self.kafka.fence_topic, b"", partition=0)
        reset = self._fence is not None and md.offset <= self._fence
        self._fence = md.offset
        await self.pool.execute(
            "INSERT INTO relay_state (id, fence_offset) VALUES (1, $1) ON CONFLICT (id)"
            " DO UPDATE SET fence_offset = $1, updated_at = now()", md.offset)
        return reset

    async def _on_regression(self, what: str) -> bool:
        """An offset went backwards. Embedded broker: republish everything (True). Apache
        Kafka: log an error, count it, keep going without deleting or republishing (False)."""
        if self.kafka.kafka_embedded_broker:
            await self.republish_all()
            return True
        self.metrics.regressions.inc()
        log.error("the %s of %s went backwards on the broker; not republishing (not the"
                  " embedded broker): check the cluster for lost or recreated topics",
                  what, self.topic)
        return False

    async def republish_all(self) -> None:
        """Publish every retained event again, in outbox order; consumers dedupe by id.

        The topics are created explicitly first: a topic the broker auto-created on our
        produce may have the wrong partition count."""
        self.metrics.resets.inc()
        await ensure_topics(self.kafka)
        self._offsets.clear()
        self._fence = -1  # the fence topic may have been created afresh just now
        count = await self.pool.fetchval(
            "WITH r AS (UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL"
            " RETURNING 1) SELECT count(*) FROM r")
        log.warning("the broker lost %s: republishing %d retained events", self.topic, count)
        self._wake.set()


__all__ = ["LEADER_LOCK", "OutboxRelay", "RelayMetrics"]
