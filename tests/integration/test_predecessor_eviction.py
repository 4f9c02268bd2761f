"""A restarted consumer evicts its SIGKILLed predecessor from the group on the real broker
(dsync.pipeline.predecessors): LeaveGroup on the dead member's behalf is accepted, the dead
member's liveness row is forgotten, and a live member's row is left alone."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dsync.db.pool import create_pool
from dsync.kafka.topics import ensure_topics
from dsync.pipeline.predecessors import evict_dead_predecessors
from dsync.settings import KafkaSettings, PostgresSettings

MEMBER = """
import asyncio, sys
from aiokafka import AIOKafkaConsumer
async def main():
    c = AIOKafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3],
                         enable_auto_commit=False, session_timeout_ms=30000,
                         heartbeat_interval_ms=1000)
    await c.start()
    while not c.assignment():
        await c.getmany(timeout_ms=100)
    print(c._coordinator.member_id, flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(PostgresSettings(database_url=database_url, db_pool_min=1,
                                           db_pool_max=2))
    yield p
    await p.close()


async def test_a_sigkilled_member_is_evicted_and_forgotten(
        pool: asyncpg.Pool, kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = KafkaSettings(kafka_bootstrap=kafka_bootstrap, kafka_topic_prefix=topic_prefix,
                             kafka_commands_partitions=2, kafka_events_partitions=2)
    await ensure_topics(settings)
    group = f"g-{uuid.uuid4().hex[:8]}"
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MEMBER, kafka_bootstrap, settings.events_topic, group,
        stdout=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None
        member_id = (await asyncio.wait_for(child.stdout.readline(), 60)).decode().strip()
        assert member_id
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    host = socket.gethostname()
    live = f"{host}-{os.getppid()}"
    for instance, member in ((f"{host}-{child.pid}", member_id), (live, "someone-alive")):
        await pool.execute(
            "INSERT INTO service_heartbeats (service, instance, topic, partitions, group_id,"
            " member_id) VALUES ('svc', $1, $2, '{0}', $3, $4)", instance,
            settings.events_topic, group, member)
    assert await evict_dead_predecessors(pool, kafka_bootstrap, "svc", group) == 1
    left = [r["instance"] for r in await pool.fetch(
        "SELECT instance FROM service_heartbeats WHERE service = 'svc'")]
    assert left == [live]
    # nothing left to evict the second time
    assert await evict_dead_predecessors(pool, kafka_bootstrap, "svc", group) == 0
