"""The outbox relay: publishes committed events to `dsync.events`, in order per tenant.

One relay is active at a time (PostgreSQL advisory lock on its own connection); the others
wait as hot standbys. It wakes on `NOTIFY dsync_outbox` and polls as a fallback. After a
crash it may publish an event again (at-least-once): consumers dedupe by event `id`.
"""
from __future__ import annotations

import asyncio
import json
import logging

import asyncpg
from aiokafka import AIOKafkaProducer

from dsync.db.pool import connect
from dsync.kafka.topics import delete_topic, ensure_topics
from dsync.outbox import OUTBOX_CHANNEL
from dsync.runtime import sleep_or_stop, wait_either
from dsync.settings import KafkaSettings
from dsync_services.directory.metrics import DirectoryMetrics

log = logging.getLogger(__name__)
_LEADER_LOCK = 0x6F7574626F78  # "outbox"
BATCH = 500


class OutboxRelay:
    def __init__(self, dsn: str, pool: asyncpg.Pool, producer: AIOKafkaProducer, topic: str,
                 metrics: DirectoryMetrics, poll_interval_s: float = 1.0,
                 kafka: KafkaSettings | None = None) -> None:
        self.kafka = kafka
        self.dsn = dsn
        self.pool = pool
        self.producer = producer
        self.topic = topic
        self.metrics = metrics
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._fence: int | None = None
        self.fence_topic = topic.removesuffix(".events") + ".relay.fence"
        self.resets = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop`; reconnects after database or broker errors."""
        while not stop.is_set():
            try:
                await self._lead(stop)
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any failure
                log.warning("outbox relay error, restarting: %s: %s", type(exc).__name__, exc)
                await self.pool.expire_connections()
                await sleep_or_stop(stop, 1.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await connect(self.dsn)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK):
                if await sleep_or_stop(stop, 2.0):
                    return
            await conn.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
            while not stop.is_set():
                self._wake.clear()
                published = await self.publish_pending()
                if published < BATCH:
                    await wait_either(stop, self._wake, self.poll_interval_s)
                if conn.is_closed():
                    raise asyncpg.InterfaceError("relay leader connection lost")
        finally:
            await conn.close()

    async def publish_pending(self) -> int:
        """Publish up to BATCH unpublished events in outbox order; mark them published."""
        rows = await self.pool.fetch(
            "SELECT id, tenant_id, event FROM outbox WHERE published_at IS NULL"
            " ORDER BY id LIMIT $1", BATCH)
        if not rows:
            self.metrics.outbox_backlog.set(0)
            return 0
        if await self._broker_was_reset():
            await self.republish_all()
            return BATCH
        futures = [await self.producer.send(self.topic, json.dumps(r["event"]).encode(),
                                            key=str(r["tenant_id"]).encode())
                   for r in rows]
        await asyncio.gather(*futures)
        if await self._broker_was_reset(persist=True):
            # The broker restarted while this batch was in flight: its events may sit on
            # the new topic ahead of older ones. Start the topic over, in outbox order.
            await self.republish_all(recreate=True)
            return BATCH
        ids: list[int] = [r["id"] for r in rows]
        await self.pool.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1)", ids)
        self.metrics.events_published.inc(len(rows))
        self.metrics.outbox_backlog.set(0)
        return len(rows)

    async def _broker_was_reset(self, *, persist: bool = False) -> bool:
        """Write a fence record: if its offset went backwards since the last one, the broker
        lost its topics. Checked before and after each batch, so retained events go out
        again, in order, ahead of newer ones. The post-batch offset is `persist`ed in
        PostgreSQL (one write per batch) so a restarted relay still notices."""
        if self._fence is None:
            self._fence = await self.pool.fetchval(
                "SELECT fence_offset FROM relay_state WHERE id = 1")
        md = await self.producer.send_and_wait(self.fence_topic, b"", partition=0)
        reset = self._fence is not None and md.offset <= self._fence
        self._fence = md.offset
        if persist or reset:
            await self.pool.execute(
                "INSERT INTO relay_state (id, fence_offset) VALUES (1, $1) ON CONFLICT (id)"
                " DO UPDATE SET fence_offset = $1, updated_at = now()", md.offset)
        return reset

    async def republish_all(self, *, recreate: bool = False) -> None:
        """Publish every retained event again, in outbox order; consumers dedupe by id.

        The topics are created explicitly first: a topic the broker auto-created on our
        produce is not listed, and another service's watchdog would create it again,
        empty, after we republished into it."""
        self.resets += 1
        if self.kafka is not None:
            if recreate:
                await delete_topic(self.kafka, self.topic)
            await ensure_topics(self.kafka)
            self._fence = -1  # the fence topic may have been created afresh just now
        count = await self.pool.fetchval(
            "WITH r AS (UPDATE outbox SET published_at = NULL WHERE published_at IS NOT NULL"
            " RETURNING 1) SELECT count(*) FROM r")
        log.warning("%s was recreated by the broker: republishing %d retained events",
                    self.topic, count)


__all__ = ["OutboxRelay"]
