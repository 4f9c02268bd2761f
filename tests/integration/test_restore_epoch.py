"""After a database restore, `migrate --new-epoch` keeps each tenant's event sequence above
everything already published (docs/deploy.md#backup-and-restore)."""
from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import uuid
from pathlib import Path

import asyncpg

from dsync.pipeline.epochs import epoch_of, first_of_epoch
from dsync_testkit.events import by_tenant, read_topic
from dsync_testkit.stack import RunningStack

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consume_events.py"


def _example_sequences() -> object:
    spec = importlib.util.spec_from_file_location("consume_events_example", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Sequences()


async def test_new_epoch_after_a_restore_continues_above_published_sequences(
        stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    for i in range(3):
        await stack.create_user(tenant, f"before-{i}@example.com")
    topic = f"{stack.topic_prefix}.events"
    events = by_tenant(await read_topic(
        stack.bootstrap, topic, until=lambda r: len(by_tenant(r).get(tenant.id, [])) >= 3,
        timeout=60))[tenant.id]
    assert [e["sequence"] for e in events] == [1, 2, 3]

    # a point-in-time restore to just after the first event: the database forgets 2 and 3
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("UPDATE tenant_event_sequences SET last_sequence = 1"
                           " WHERE tenant_id = $1", uuid.UUID(tenant.id))
    finally:
        await conn.close()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dsync_services.migrate", "--new-epoch",
        env={**os.environ, "DSYNC_DATABASE_URL": stack.database_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()

    await stack.create_user(tenant, "after-restore@example.com")
    events = by_tenant(await read_topic(
        stack.bootstrap, topic, until=lambda r: len(by_tenant(r).get(tenant.id, [])) >= 4,
        timeout=60))[tenant.id]
    assert [e["sequence"] for e in events] == [1, 2, 3, first_of_epoch(1)]
    assert epoch_of(events[-1]["sequence"]) == 1
    assert events[-1]["type"] == "user.created"

    # the documented consumer rule: duplicates dropped, the new epoch recognised, not a gap
    sequences = _example_sequences()
    verdicts = [sequences.check(tenant.id, e["sequence"])[0]  # type: ignore[attr-defined]
                for e in events]
    assert verdicts == ["new", "new", "new", "new_epoch"]
