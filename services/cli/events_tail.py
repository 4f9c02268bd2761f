"""`dsync events tail TENANT`: a tenant's events from `dsync.events`, oldest retained first.

The admin API has no event stream, so this reads Kafka directly, with the services' settings
(`DSYNC_KAFKA_BOOTSTRAP`, `DSYNC_KAFKA_TOPIC_PREFIX`). It assigns every partition (no consumer
group, no committed offsets), reads from the beginning and keeps the records keyed by the
tenant; with `follow` it then waits for new ones until interrupted or `limit` is reached.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from dsync.settings import KafkaSettings


async def tail(tenant_id: str, emit: Callable[[dict[str, Any]], None], *, follow: bool,
               limit: int | None, idle_s: float = 2.0) -> int:
    """Call `emit` with each event of the tenant, in topic order; return how many. Without
    `follow`, stop after `idle_s` without records. Raises KafkaError when unreachable."""
    settings = KafkaSettings()
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(settings.events_topic)
        if parts is None:
            await consumer._client.force_metadata_update()  # noqa: SLF001
            parts = consumer.partitions_for_topic(settings.events_topic) or set()
        tps = [TopicPartition(settings.events_topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        key, count, quiet_since = tenant_id.encode(), 0, time.monotonic()
        while limit is None or count < limit:
            batch = await consumer.getmany(timeout_ms=200)
            records = [r for recs in batch.values() for r in recs if r.key == key]
            if batch:
                quiet_since = time.monotonic()
            for record in records:
                emit(json.loads(record.value))
                count += 1
                if limit is not None and count >= limit:
                    break
            if not follow and time.monotonic() - quiet_since > idle_s:
                break
            await asyncio.sleep(0)
        return count
    finally:
        await consumer.stop()
