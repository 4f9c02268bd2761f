"""A command delivered twice (rebalance, crash before commit) is applied once."""
from __future__ import annotations

import json
import time

import asyncpg
from aiokafka import AIOKafkaProducer

from dsync_testkit.events import read_topic
from dsync_testkit.stack import RunningStack


async def _db(stack: RunningStack) -> asyncpg.Connection:
    return await asyncpg.connect(stack.database_url)


async def test_redelivered_commands_change_nothing_twice(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    user = await stack.create_user(tenant, "dave@example.com")
    status, _, _ = await stack.scim(tenant, "DELETE", f"/Users/{user['id']}")
    assert status == 204
    conn = await _db(stack)
    try:
        ops = await conn.fetch(
            "SELECT id, status, attempts FROM operations"
            " WHERE tenant_id = $1::uuid ORDER BY received_at", tenant.id)
        assert [o["status"] for o in ops] == ["applied", "applied"]
        # the two commands as they are on the topic (what a redelivery hands over again)
        mine = await read_topic(stack.bootstrap, f"{stack.topic_prefix}.commands",
                                until=lambda rs: len([r for r in rs
                                                      if r.get("tenant_id") == tenant.id]) >= 2)
        commands = sorted((r for r in mine if r.get("tenant_id") == tenant.id),
                          key=lambda r: (r["partition"], r["offset"]))
        assert [c["command_id"] for c in commands] == [str(o["id"]) for o in ops]
        events_before = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1::uuid", tenant.id)
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
        await producer.start()
        try:
            for c in commands:  # replay both commands, in order, as a redelivery would
                raw = {k: v for k, v in c.items() if k not in ("partition", "offset", "key")}
                await producer.send_and_wait(f"{stack.topic_prefix}.commands",
                                             json.dumps(raw).encode(), key=tenant.id.encode())
        finally:
            await producer.stop()
        # a later command of the same tenant is applied after the replays (same partition)
        await stack.create_user(tenant, "sentinel@example.com")
        users = await conn.fetch("SELECT user_name FROM users WHERE tenant_id = $1::uuid",
                                 tenant.id)
        assert [u["user_name"] for u in users] == ["sentinel@example.com"]
        events_after = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1::uuid", tenant.id)
        assert events_after == events_before + 1  # only the sentinel's user.created
        attempts = await conn.fetch("SELECT attempts FROM operations WHERE id = ANY($1)",
                                    [o["id"] for o in ops])
        assert [a["attempts"] for a in attempts] == [1, 1]
    finally:
        await conn.close()


async def test_malformed_command_is_dead_lettered_and_does_not_stall_the_tenant(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(f"{stack.topic_prefix}.commands", b'{"type": "nonsense"}',
                                     key=tenant.id.encode())
    finally:
        await producer.stop()
    await stack.create_user(tenant, "after-poison@example.com")  # not stalled

    dead = await read_topic(stack.bootstrap, f"{stack.topic_prefix}.commands.dlq",
                            until=lambda rs: any(r.get("type") == "nonsense" for r in rs))
    assert any(r.get("type") == "nonsense" for r in dead)


async def test_dlq_tool_lists_and_replays(stack: RunningStack) -> None:
    import os

    from dsync.settings import KafkaSettings
    from dsync_services.directory import dlq_tool

    tenant = await stack.new_tenant()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(f"{stack.topic_prefix}.commands", b"not json at all",
                                     key=tenant.id.encode())
    finally:
        await producer.stop()
    await stack.create_user(tenant, "after-dlq@example.com")  # the partition moved on
    settings = KafkaSettings(kafka_bootstrap=stack.bootstrap,
                             kafka_topic_prefix=stack.topic_prefix)
    records = await dlq_tool.read_dlq(settings)
    mine = [dlq_tool.describe(r) for r in records if r.key == tenant.id.encode()]
    assert mine and mine[0]["origin_topic"] == f"{stack.topic_prefix}.commands"
    assert mine[0]["payload_head"] == "not json at all" and mine[0]["error"]
    assert await dlq_tool.replay(settings, [r for r in records
                                            if r.key == tenant.id.encode()],
                                 database_url=stack.database_url) == 1
    deadline = time.monotonic() + 10  # woken by the tool's NOTIFY, not by its idle check
    while True:
        again = await dlq_tool.read_dlq(settings)  # still malformed: dead-lettered again
        if len([r for r in again if r.key == tenant.id.encode()]) >= 2:
            break
        assert time.monotonic() < deadline, "the replayed record was not dead-lettered again"
    assert os.environ.get("DSYNC_KAFKA_TOPIC_PREFIX") != stack.topic_prefix
