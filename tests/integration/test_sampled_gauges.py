"""The sampled gauges read real rows and real topics (issue 12): outbox backlog and age,
failing operations by reason code, DLQ records, webhook deliveries by status."""
from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Gauge

from dsync.kafka.topics import ensure_topics
from dsync.settings import KafkaSettings
from dsync_services.directory.gauges import DirectoryGauges, DirectorySampler
from dsync_services.fanout.gauges import DeliveryGauges


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def _tenant(conn: asyncpg.Connection) -> uuid.UUID:
    tid = uuid.uuid4()
    await conn.execute("INSERT INTO tenants (id, name) VALUES ($1, $2)", tid, f"t-{tid.hex[:8]}")
    return tid


async def test_directory_gauges_count_outbox_ledger_and_dlq(
        database_url: str, kafka_bootstrap: str, topic_prefix: str) -> None:
    kafka = KafkaSettings(kafka_bootstrap=kafka_bootstrap, kafka_topic_prefix=topic_prefix,
                          kafka_commands_partitions=1, kafka_events_partitions=1)
    await ensure_topics(kafka)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(kafka.commands_dlq_topic, f"bad-{i}".encode())
    finally:
        await producer.stop()
    conn = await asyncpg.connect(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    registry = CollectorRegistry()
    gauges = DirectoryGauges(registry, Gauge("dsync_outbox_backlog", "b", registry=registry))
    sampler = DirectorySampler(pool, kafka, gauges)
    try:
        tid = await _tenant(conn)
        for seq, published in ((1, True), (2, False), (3, False)):
            await conn.execute(
                "INSERT INTO outbox (tenant_id, sequence, event, created_at, published_at)"
                " VALUES ($1, $2, '{}', now() - interval '90 seconds',"
                " CASE WHEN $3 THEN now() END)", tid, seq, published)
        for status, reason in (("failed", "internal"), ("failed", "internal"),
                               ("dead", "not_delivered"), ("applied", None),
                               ("rejected", "uniqueness")):
            await conn.execute(
                "INSERT INTO operations (id, tenant_id, method, path, status, reason_code)"
                " VALUES ($1, $2, 'POST', '/Users', $3, $4)", uuid.uuid4(), tid, status, reason)
        await sampler.sample()
        assert _value(registry, "dsync_outbox_backlog") == 2
        assert _value(registry, "dsync_outbox_oldest_unpublished_seconds") >= 90
        assert _value(registry, "dsync_operations_failing", status="failed",
                      reason_code="internal") == 2
        assert _value(registry, "dsync_operations_failing", status="dead",
                      reason_code="not_delivered") == 1
        assert _value(registry, "dsync_operations_failing", status="rejected",
                      reason_code="uniqueness") is None
        assert _value(registry, "dsync_dlq_records", topic=kafka.commands_dlq_topic) == 3
        assert _value(registry, "dsync_dlq_records", topic=kafka.events_dlq_topic) == 0

        # everything is handled: the gauges go back to zero
        await conn.execute("UPDATE outbox SET published_at = now()")
        await conn.execute("UPDATE operations SET status = 'applied', reason_code = NULL")
        await sampler.sample()
        assert _value(registry, "dsync_outbox_backlog") == 0
        assert _value(registry, "dsync_outbox_oldest_unpublished_seconds") == 0
        assert _value(registry, "dsync_operations_failing", status="failed",
                      reason_code="internal") == 0
    finally:
        await sampler.close()
        await pool.close()
        await conn.close()


async def test_delivery_gauges_count_waiting_and_dead_deliveries(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        tid = await _tenant(conn)
        hook = uuid.uuid4()
        await conn.execute("INSERT INTO webhooks (id, tenant_id, url, secret) VALUES"
                           " ($1, $2, 'https://example.com/hook', 's')", hook, tid)
        statuses = ["pending", "pending", "retrying", "dead", "delivered", "skipped"]
        for seq, status in enumerate(statuses, start=1):
            await conn.execute(
                "INSERT INTO webhook_deliveries (webhook_id, tenant_id, event_id, event_type,"
                " sequence, event_time, body, status) VALUES ($1, $2, $3, 'user.created', $4,"
                " now(), '{}', $5)", hook, tid, uuid.uuid4(), seq, status)
        registry = CollectorRegistry()
        gauges = DeliveryGauges(pool, registry)
        await asyncio.wait_for(gauges.sample(), 30)
        assert {s: _value(registry, "dsync_webhook_deliveries", status=s)
                for s in ("pending", "retrying", "dead")} == {"pending": 2, "retrying": 1,
                                                             "dead": 1}
    finally:
        await pool.close()
        await conn.close()
