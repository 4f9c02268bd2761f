"""The embedded broker answers a fetch short when the fetch's wait ends before it has listed
the partition's log; the pipeline consumer raises its wait until it gets the records
(dsync.kafka.fetch_wait). Without that, a tenant whose partition holds thousands of
batches stops being served while its producers go on."""
from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from dsync.pipeline.consumer import PipelineConsumer
from dsync.settings import KafkaSettings

BATCHES = 16_000
"""Single-record batches in the partition: far more than the broker lists in 1 ms (about
5-10 ms on our machines)."""
TAIL = 10


async def _partition_of_many_batches(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    # a batch smaller than one record holds one record: one stored object per send
    producers = [AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_batch_size=16)
                 for _ in range(8)]
    for p in producers:
        await p.start()
    try:
        async def fill(p: AIOKafkaProducer, n: int) -> None:
            for i in range(n):
                await p.send_and_wait(topic, f"r{i}".encode() * 8, partition=0)
        await asyncio.gather(*(fill(p, BATCHES // 8) for p in producers))
    finally:
        for p in producers:
            await p.stop()


async def test_a_short_wait_on_a_long_partition_gets_nothing_unless_raised(
        kafka_bootstrap: str) -> None:
    topic = f"fw{uuid.uuid4().hex[:10]}"
    tp = TopicPartition(topic, 0)
    await _partition_of_many_batches(kafka_bootstrap, topic)

    # The premise: a consumer asking for a 1 ms wait near the end gets nothing, for good.
    plain = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False,
                             fetch_max_wait_ms=1)
    await plain.start()
    try:
        plain.assign([tp])
        plain.seek(tp, BATCHES - TAIL)
        got = await plain.getmany(tp, timeout_ms=1500)
        assert got.get(tp, []) == [], "the broker now lists a long partition within 1 ms"
        assert plain.highwater(tp) == BATCHES
    finally:
        await plain.stop()

    # The pipeline consumer, starting from a committed offset near the end with the same
    # 1 ms wait, raises its wait and gets the tail.
    group = f"g-{uuid.uuid4().hex[:8]}"
    committer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group,
                                 enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign([tp])
        await committer.commit({tp: OffsetAndMetadata(BATCHES - TAIL, "")})
    finally:
        await committer.stop()
    seen: list[int] = []
    done = asyncio.Event()

    async def handler(_tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen.extend(r.offset for r in records)
        if len(seen) >= TAIL:
            done.set()

    settings = KafkaSettings(kafka_bootstrap=kafka_bootstrap, kafka_fetch_max_wait_ms=1)
    consumer = PipelineConsumer(settings, topic=topic, group_id=group, service="test",
                                handler=handler)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await asyncio.wait_for(done.wait(), 60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert seen == list(range(BATCHES - TAIL, BATCHES))
    assert consumer.fetch_wait.budget_ms > 1
