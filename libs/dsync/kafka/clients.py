"""Producer and consumer factories with the settings both brokers support (docs/pipeline.md)."""
from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from dsync.kafka.connection import connection_kwargs
from dsync.settings import KafkaSettings

FETCHER_WAKE_MS = 1000
"""aiokafka's background fetcher wakes at least this often (its `consumer_timeout_ms`,
200 ms by default) even when nothing is due: with every partition paused it then walks
the assignment five times a second for nothing, about 0.2 % of a core per consumer at
idle. A resume, a consumed batch, a fetch answer and a rebalance wake it at once anyway."""


def build_producer(settings: KafkaSettings, client_id: str, linger_ms: int = 0
                   ) -> AIOKafkaProducer:
    """acks=all; idempotence only when enabled (Tansu rejects aiokafka's InitProducerId)."""
    return AIOKafkaProducer(
        **connection_kwargs(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=linger_ms,
        request_timeout_ms=10_000,
        retry_backoff_ms=100,
        max_request_size=settings.kafka_max_message_bytes,
    )


def build_consumer(settings: KafkaSettings, *topics: str, group_id: str,
                   client_id: str, fetch_max_wait_ms: int | None = None,
                   max_poll_records: int = 500) -> AIOKafkaConsumer:
    """Manual commits, earliest reset (end offsets are unreliable on Tansu), small fetch wait."""
    return AIOKafkaConsumer(
        *topics,
        **connection_kwargs(settings),
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=fetch_max_wait_ms or settings.kafka_fetch_max_wait_ms,
        max_poll_records=max_poll_records,
        max_partition_fetch_bytes=settings.kafka_max_message_bytes,
        fetch_max_bytes=max(52_428_800, settings.kafka_max_message_bytes),
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        isolation_level="read_uncommitted",
        consumer_timeout_ms=FETCHER_WAKE_MS,
    )


def build_admin(settings: KafkaSettings) -> AIOKafkaAdminClient:
    """An admin client (topic creation, deletion) with the same connection settings."""
    return AIOKafkaAdminClient(**connection_kwargs(settings))


def build_reader(settings: KafkaSettings, *, fetch_max_wait_ms: int = 50) -> AIOKafkaConsumer:
    """A group-less consumer for tools that assign partitions themselves (DLQ, tail)."""
    return AIOKafkaConsumer(**connection_kwargs(settings), enable_auto_commit=False,
                            fetch_max_wait_ms=fetch_max_wait_ms)
