"""Failover of exclusive owners (issue 14): a SIGKILLed fanout's endpoint queues are free
the moment its database session ends, and the restarted fanout evicts the dead member from
its consumer group, so deliveries go on as soon as it is up, not after a lease or a
session timeout runs out; in order, nothing lost."""
from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.receiver import Arrival, HookReceiver, first_arrival_sequences
from dsync_testkit.stack import SCIM_USER, RunningStack, Tenant, start_stack

pytestmark = pytest.mark.slow
OLD_LEASE_S = 60.0
"""What a crashed fanout's queues used to wait for (the removed DSYNC_WEBHOOK_LEASE_S)."""


@pytest.fixture(scope="module")
async def failover_stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers))
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
async def receiver() -> AsyncIterator[HookReceiver]:
    r = HookReceiver()
    await r.start()
    yield r
    await r.stop()


async def _write_until(stack: RunningStack, tenant: Tenant, stop: asyncio.Event) -> None:
    i = 0
    while not stop.is_set():
        status, body, _ = await stack.scim(tenant, "POST", "/Users", {
            "schemas": [SCIM_USER], "userName": f"{tenant.name}-{i}@example.com"})
        assert status == 201, body  # the fanout's crash must not touch the write path
        i += 1
        await asyncio.sleep(0.02)


async def _wait(check, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_sigkill_fanout_under_load_deliveries_resume_in_order(
        failover_stack: RunningStack, receiver: HookReceiver) -> None:
    stack = failover_stack
    tenants = [await stack.new_tenant() for _ in range(3)]
    routes: dict[str, list[Arrival]] = {}
    for t in tenants:
        url, routes[t.id] = receiver.new_route()
        status, body = await stack.admin("POST", f"/admin/v1/tenants/{t.id}/webhooks",
                                         {"url": url, "secret": "whsec_failover"})
        assert status == 201, body
    stop = asyncio.Event()
    writers = [asyncio.create_task(_write_until(stack, t, stop)) for t in tenants]
    try:
        await _wait(lambda: all(len(a) >= 5 for a in routes.values()), 60,
                    "deliveries before the fault")
        old_pid = stack.supervisor.kill("fanout", signal.SIGKILL)
        killed_at = time.monotonic()
        # every receiver gets something new after the kill, long before the old lease
        # could have run out: the dead process's locks died with its session
        await _wait(lambda: all(any(x.at > killed_at for x in a) for a in routes.values()),
                    OLD_LEASE_S / 2, "deliveries after the fanout was killed")
        resumed = max(min(x.at for x in a if x.at > killed_at) for a in routes.values())
        print(f"\nwebhooks delivered again {resumed - killed_at:.1f} s after SIGKILL")
        assert stack.supervisor.pid("fanout") != old_pid
        # the restarted fanout evicted its dead predecessor from the consumer group
        assert "evicted dead member" in stack.log("fanout")
    finally:
        stop.set()
        await asyncio.gather(*writers)
    conn = await asyncpg.connect(stack.database_url)
    try:
        expected = {t.id: await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1::uuid", t.id) for t in tenants}
    finally:
        await conn.close()
    await _wait(lambda: all(len(first_arrival_sequences(routes[t])) >= n
                            for t, n in expected.items()), 60, "every event delivered")
    for tenant_id, n in expected.items():
        assert first_arrival_sequences(routes[tenant_id]) == list(range(1, n + 1))
        # a re-send (the batch in flight at the kill) only ever repeats the past
        seqs = [int(a.event["sequence"]) for a in routes[tenant_id]]
        assert all(b <= a + 1 for a, b in zip(seqs, seqs[1:], strict=False))


async def test_a_killed_service_is_replaced_by_its_warm_spare(servers: Servers) -> None:
    """As `make run` does: each service has a warm spare (imports done, waiting); a killed
    service's spare takes over at once and a new spare is started behind it."""
    stack = await start_stack(servers.bootstrap, await fresh_database(servers), spares=True)
    # a process that dies within `stable_s` of its start counts as crash-looping and gets a
    # delayed cold start instead; these services have just started
    stack.supervisor.stable_s = 0.0
    try:
        tenant = await stack.new_tenant()
        for name in ("gateway", "directory"):
            managed = stack.supervisor._managed[name]  # noqa: SLF001
            spare = managed.spare
            assert spare is not None and spare.poll() is None
            stack.supervisor.kill(name, signal.SIGKILL)
            await _wait(lambda m=managed, s=spare: m.process is s, 30, f"{name} spare promoted")
            await _wait(lambda m=managed, s=spare: m.spare is not None and m.spare is not s,
                        30, f"a new {name} spare")
        await stack.wait_healthy()
        deadline = time.monotonic() + 60
        while (await stack.scim(tenant, "POST", "/Users", {
                "schemas": [SCIM_USER], "userName": f"after-{time.time_ns()}@example.com"}))[0] \
                != 201:
            assert time.monotonic() < deadline, "no write acknowledged after the takeover"
            await asyncio.sleep(0.2)
    finally:
        await stack.close()
    assert all(m.spare is None or m.spare.poll() is not None
               for m in stack.supervisor._managed.values())  # noqa: SLF001 - spares stopped
