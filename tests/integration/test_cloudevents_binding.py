"""`dsync.events` records carry the CloudEvents Kafka protocol binding headers and are read
by the CloudEvents SDK (PyPI `cloudevents`, `cloudevents.core.bindings.kafka`)."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from cloudevents.core.bindings import kafka as ce_kafka

from dsync_testkit.stack import RunningStack


async def _records_of(stack: RunningStack, tenant_id: str, count: int) -> list[ConsumerRecord]:
    """The tenant's first `count` records on dsync.events (all partitions, from offset 0)."""
    topic = f"{stack.topic_prefix}.events"
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = await consumer._client.fetch_all_metadata()  # noqa: SLF001
        tps = [TopicPartition(topic, p) for p in sorted(parts.partitions_for_topic(topic) or [])]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        found: list[ConsumerRecord] = []
        deadline = time.monotonic() + 60
        while len(found) < count:
            assert time.monotonic() < deadline, f"only {len(found)} records of {tenant_id}"
            batch = await consumer.getmany(timeout_ms=200)
            found += [r for recs in batch.values() for r in recs
                      if r.key == tenant_id.encode()]
            await asyncio.sleep(0)
        return sorted(found, key=lambda r: r.offset)[:count]
    finally:
        await consumer.stop()


async def test_every_record_is_read_by_the_cloudevents_sdk(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "ce@example.com")
    status, _, _ = await stack.scim(tenant, "DELETE", f"/Users/{user['id']}")
    assert status == 204
    records = await _records_of(stack, tenant.id, 2)
    for record, expected_type in zip(records, ("user.created", "user.deleted"), strict=True):
        headers = {k: v for k, v in record.headers}
        value: dict[str, Any] = json.loads(record.value)
        message = ce_kafka.KafkaMessage(headers=headers, key=record.key, value=record.value)
        # structured mode, as the content-type says: the value is the whole event
        event = ce_kafka.from_structured_event(message)
        assert event.get_type() == expected_type == value["type"]
        assert event.get_id() == value["id"] and event.get_subject() == user["id"]
        assert event.get_extension("tenantid") == tenant.id
        assert event.get_extension("sequence") == value["sequence"]
        assert event.get_data() == value["data"]
        assert headers["content-type"].startswith(b"application/cloudevents+json")
        # the ce_ headers alone are a complete binary-mode attribute set equal to the value's
        binary = ce_kafka.from_binary_event(ce_kafka.KafkaMessage(
            headers={k: v for k, v in headers.items() if k != "content-type"},
            key=record.key, value=json.dumps(value["data"]).encode()))
        for name in ("specversion", "id", "source", "type", "subject", "dataschema"):
            assert binary.get_attributes()[name] == value[name], name
        assert binary.get_time() == event.get_time()
        assert binary.get_extension("tenantid") == tenant.id
        assert int(binary.get_extension("sequence")) == value["sequence"]
