"""examples/consume_events.py against the running stack: order, dedupe, gaps, commits."""
from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from dsync_testkit.stack import RunningStack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consume_events.py"


async def run_example(stack: RunningStack, *args: str,
                      topic: str = "") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--bootstrap", stack.bootstrap,
        "--topic", topic or f"{stack.topic_prefix}.events", "--fetch-max-wait-ms", "20", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()
    lines = [json.loads(line) for line in out.decode().splitlines()]
    reports = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    return lines, reports


async def test_example_consumer_reads_a_tenants_events_in_order(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    users = [await stack.create_user(tenant, f"ex{i}@example.com") for i in range(3)]
    status, _, _ = await stack.scim(tenant, "DELETE", f"/Users/{users[0]['id']}")
    assert status == 204
    group = f"example-{uuid.uuid4().hex[:8]}"
    events, reports = await run_example(stack, "--group", group, "--tenant", tenant.id,
                                        "--max-events", "4")
    assert [e["sequence"] for e in events] == [1, 2, 3, 4]
    assert [e["type"] for e in events] == ["user.created"] * 3 + ["user.deleted"]
    assert reports[-1] == {"handled": 4}
    # offsets were committed: the same group starts after them
    again, reports = await run_example(stack, "--group", group, "--tenant", tenant.id,
                                       "--idle-exit", "2")
    assert again == [] and reports[-1] == {"handled": 0}


async def test_example_consumer_drops_duplicates_and_reports_gaps(stack: RunningStack) -> None:
    """A replayed and a skipped record, on a topic of their own (the services don't read it)."""
    tenant = str(uuid.uuid4())
    topic = f"{stack.topic_prefix}.example-{uuid.uuid4().hex[:6]}"

    def event(seq: int, event_id: str | None = None) -> bytes:
        return json.dumps({"specversion": "1.0", "id": event_id or str(uuid.uuid4()),
                           "source": f"/dsync/tenants/{tenant}", "type": "user.created",
                           "subject": "x", "time": "2025-01-01T00:00:00Z",
                           "tenantid": tenant, "sequence": seq, "data": {}}).encode()

    first = str(uuid.uuid4())
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        for value in (event(1, first), event(1, first), event(2), event(2), event(5)):
            await producer.send_and_wait(topic, value, key=tenant.encode())
    finally:
        await producer.stop()
    events, reports = await run_example(stack, "--group", f"g-{uuid.uuid4().hex[:8]}",
                                        "--tenant", tenant, "--max-events", "3", topic=topic)
    assert [e["sequence"] for e in events] == [1, 2, 5]
    assert [r.get("reason") for r in reports if "duplicate" in r] == ["same id", "old sequence"]
    assert {"gap": 2, "tenantid": tenant, "before_sequence": 5} in reports
