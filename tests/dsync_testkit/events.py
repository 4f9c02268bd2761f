"""Read what is on a topic, from the beginning, as a downstream consumer would."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def read_topic(bootstrap: str, topic: str, *, until: Callable[[list[dict[str, Any]]], bool],
                     timeout: float = 30.0,  # noqa: ASYNC109  (a deadline across many reads)
                     ) -> list[dict[str, Any]]:
    """All JSON records of `topic` (all partitions, from offset 0) once `until(records)` holds.

    Raises TimeoutError with what was read when the condition does not hold in time.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                fetch_max_wait_ms=20)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        parts: set[int] | None = None
        while parts is None:
            parts = consumer.partitions_for_topic(topic)
            if parts is None:
                await consumer._client.force_metadata_update()  # noqa: SLF001
                parts = consumer.partitions_for_topic(topic)
                if parts is None and time.monotonic() > deadline:
                    raise TimeoutError(f"topic {topic} does not exist")
                if parts is None:
                    await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[dict[str, Any]] = []
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for _, recs in sorted(batch.items(), key=lambda kv: kv[0].partition):
                records.extend({"partition": r.partition, "offset": r.offset,
                                "key": r.key, **json.loads(r.value)} for r in recs)
            if until(records):
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met; read {len(records)} records")
    finally:
        await consumer.stop()


def by_tenant(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Events grouped per tenant in topic order (one tenant = one partition), deduped by id."""
    out: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for e in sorted(events, key=lambda e: (e["partition"], e["offset"])):
        if e["id"] in seen:
            continue
        seen.add(e["id"])
        out.setdefault(e["tenantid"], []).append(e)
    return out
