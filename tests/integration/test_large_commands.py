"""Large commands: an 18k-member Group PUT goes through Kafka; a command too large for one
record is 413 and changes nothing (docs/limits.md, `DSYNC_KAFKA_MAX_MESSAGE_BYTES`)."""
from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from dsync.kafka.clients import build_consumer, build_producer
from dsync.settings import KafkaSettings
from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.seeding import seed_users
from dsync_testkit.stack import SCIM_GROUP, RunningStack, Tenant, start_stack

MAX_MESSAGE_BYTES = 2 * 1024 * 1024  # small enough that a body under 4 MiB can exceed it


@pytest.fixture(scope="module")
async def stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_KAFKA_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES))
    try:
        yield running
    finally:
        await running.close()


async def put_big(stack: RunningStack, tenant: Tenant, path: str, body: object
                  ) -> tuple[int, Any]:
    """A PUT with a multi-megabyte body, streamed (aiohttp warns about large raw bodies)."""
    headers = {"Authorization": f"Bearer {tenant.token}",
               "Content-Type": "application/scim+json"}
    async with stack.http.put(f"{stack.scim_url}{path}", data=io.BytesIO(orjson.dumps(body)),
                              headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def member_count(stack: RunningStack, group_id: str) -> int:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM group_members WHERE group_id = $1", uuid.UUID(group_id)))
    finally:
        await conn.close()


async def test_18k_member_put_works_and_a_too_large_one_is_413(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    users = await seed_users(stack, tenant, 45_000)
    status, group, _ = await stack.scim(tenant, "POST", "/Groups",
                                        {"schemas": [SCIM_GROUP], "displayName": "big"})
    assert status == 201, group
    members = [{"value": u, "type": "User"} for u in users[:18_000]]
    status, body = await put_big(
        stack, tenant, f"/Groups/{group['id']}",
        {"schemas": [SCIM_GROUP], "displayName": "big", "members": members})
    assert status == 200, str(body)[:500]
    assert await member_count(stack, group["id"]) == 18_000
    status, body, _ = await stack.scim(tenant, "GET", f"/Groups/{group['id']}")
    assert status == 200 and body["meta"]["version"]
    version = body["meta"]["version"]

    # ≈ 2.4 MB of command: over the 2 MiB set here, under the 4 MiB body limit
    too_many = [{"value": u, "type": "User"} for u in users]
    status, body = await put_big(
        stack, tenant, f"/Groups/{group['id']}",
        {"schemas": [SCIM_GROUP], "displayName": "renamed", "members": too_many})
    assert status == 413, str(body)[:500]
    assert body["status"] == "413" and "PATCH" in body["detail"]
    assert await member_count(stack, group["id"]) == 18_000
    status, body, _ = await stack.scim(tenant, "GET",
                                       f"/Groups/{group['id']}?excludedAttributes=members")
    assert body["displayName"] == "big" and body["meta"]["version"] == version


async def test_embedded_broker_carries_a_record_near_the_default_limit(
        kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = KafkaSettings(kafka_bootstrap=kafka_bootstrap)
    assert settings.kafka_max_message_bytes == 8 * 1024 * 1024
    topic = f"{topic_prefix}.big"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    payload = b"x" * (settings.kafka_max_message_bytes - 4096)
    producer = build_producer(settings, client_id="big-test")
    await producer.start()
    try:
        await producer.send_and_wait(topic, payload, key=b"k")
    finally:
        await producer.stop()
    consumer = build_consumer(settings, topic, group_id=f"{topic}-g", client_id="big-test")
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=30_000)
        for _ in range(20):
            if batches:
                break
            batches = await consumer.getmany(timeout_ms=3_000)
        records = [r for rs in batches.values() for r in rs]
        assert [len(r.value or b"") for r in records] == [len(payload)]
    finally:
        await consumer.stop()
