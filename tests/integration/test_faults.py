"""Fault tests under a steady concurrent write load over many tenants (issue 4).

Each fault in turn: SIGKILL the directory (which also hosts the outbox relay), SIGKILL the
gateway, restart the broker (memory storage: every topic and offset is lost), and make
PostgreSQL refuse connections for a few seconds. After recovery: every write that got a
2xx is in the state exactly once, nothing exists for a 4xx, each tenant's event sequence is
contiguous with no gap and no duplicate id after dedupe (in the outbox and on the topic),
and the ledger accounts for every request.
"""
from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import pytest

from dsync_testkit.events import by_tenant, read_topic
from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import SCIM_USER, RunningStack, Tenant, start_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def fault_stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_WRITE_TIMEOUT_S="3", DSYNC_STALE_OPERATION_S="12",
                                DSYNC_HOUSEKEEPING_INTERVAL_S="1")
    try:
        yield running
    finally:
        await running.close()


@dataclass
class Load:
    stack: RunningStack
    tenants: list[Tenant]
    results: list[tuple[str, str, str, int]] = field(default_factory=list)
    """(tenant id, action, userName, status); status 0 = no answer (connection broken)."""
    running: bool = True

    async def writer(self, tenant: Tenant, n: int) -> None:
        i = 0
        while self.running:
            name = f"{tenant.name}-{n}-{i}@example.com"
            await self._call(tenant, "create", name, "POST", "/Users",
                             {"schemas": [SCIM_USER], "userName": name})
            if i % 5 == 0:  # a bad request now and then: must change nothing
                await self._call(tenant, "bad", name, "POST", "/Users",
                                 {"schemas": [SCIM_USER], "userName": "", "displayName": name})
            i += 1

    async def _call(self, tenant: Tenant, action: str, name: str, method: str, path: str,
                    body: dict[str, object]) -> None:
        try:
            status, _, _ = await self.stack.scim(tenant, method, path, body)
        except (TimeoutError, aiohttp.ClientError):
            status = 0
            await asyncio.sleep(0.2)
        if status in (503, 0):
            await asyncio.sleep(0.1)
        self.results.append((tenant.id, action, name, status))


async def _probe_until_healthy(stack: RunningStack, tenant: Tenant, started: float) -> float:
    """Seconds from the fault until a fresh write is acknowledged again."""
    i = 0
    while True:
        i += 1
        try:
            status, _, _ = await stack.scim(tenant, "POST", "/Users", {
                "schemas": [SCIM_USER], "userName": f"probe-{time.time_ns()}-{i}@example.com"})
            if status == 201:
                return time.monotonic() - started
        except aiohttp.ClientError:
            pass
        assert time.monotonic() - started < 90, "no recovery within 90 s"
        await asyncio.sleep(0.2)


async def test_faults_under_load_lose_duplicate_and_reorder_nothing(
        fault_stack: RunningStack, servers: Servers) -> None:
    stack = fault_stack
    tenants = [await stack.new_tenant(f"f{i}") for i in range(6)]
    probe = await stack.new_tenant("probe")
    load = Load(stack, tenants)
    writers = [asyncio.create_task(load.writer(t, n)) for t in tenants for n in range(2)]

    async def pg_outage() -> None:
        assert servers.pg is not None
        await asyncio.to_thread(servers.pg.stop)
        await asyncio.sleep(3)
        await asyncio.to_thread(servers.pg.start)

    faults: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("SIGKILL directory (+ outbox relay)",
         lambda: asyncio.to_thread(stack.supervisor.kill, "directory", signal.SIGKILL)),
        ("SIGKILL gateway",
         lambda: asyncio.to_thread(stack.supervisor.kill, "gateway", signal.SIGKILL)),
    ]
    if servers.broker is not None:
        faults.append(("restart broker (all topics lost)",
                       lambda: asyncio.to_thread(servers.broker.restart)))  # type: ignore[union-attr]
    if servers.pg is not None:
        faults.append(("PostgreSQL refuses connections for 3 s", pg_outage))
    recovery: dict[str, float] = {}
    try:
        await asyncio.sleep(2)
        for name, inject in faults:
            started = time.monotonic()
            await inject()
            recovery[name] = await _probe_until_healthy(stack, probe, started)
            await asyncio.sleep(2)  # steady load again before the next fault
    finally:
        load.running = False
        await asyncio.gather(*writers)
    print("\nrecovery time (fault -> next acknowledged write):")
    for name, seconds in recovery.items():
        print(f"  {name}: {seconds:.1f} s")
    await _check_invariants(stack, load)


def _unexpected_errors(stack: RunningStack) -> str:
    """The gateway's logged 500s (with their tracebacks), for a failure's message."""
    lines = stack.log("gateway").splitlines()
    found = [i for i, line in enumerate(lines) if "unexpected error" in line]
    return "gateway 5xx:\n" + "\n---\n".join("\n".join(lines[i:i + 40]) for i in found[:3])


async def _check_invariants(stack: RunningStack, load: Load) -> None:
    conn = await asyncpg.connect(stack.database_url)
    try:
        deadline = time.monotonic() + 60
        while await conn.fetchval("SELECT count(*) FROM operations WHERE status = 'accepted'"):
            assert time.monotonic() < deadline, "operations still pending"
            await asyncio.sleep(0.5)
        stored = {r["user_name"]: r["n"] for r in await conn.fetch(
            "SELECT user_name, count(*) AS n FROM users GROUP BY user_name")}
        creates = [(n, s) for _, a, n, s in load.results if a == "create"]
        acknowledged = [n for n, s in creates if s == 201]
        assert len(acknowledged) > 50
        assert all(stored.get(n) == 1 for n in acknowledged), "a 2xx write was lost"
        assert all(c == 1 for c in stored.values()), "a write was applied twice"
        assert not any(s == 400 and stored.get(n) for n, s in creates)
        bad = [s for _, a, _, s in load.results if a == "bad"]
        assert set(bad) <= {400, 503, 0} and 400 in bad, _unexpected_errors(stack)
        assert not await conn.fetchval("SELECT count(*) FROM users WHERE user_name = ''")
        # the ledger accounts for every acknowledged write and every stored user
        applied = await conn.fetchval(
            "SELECT count(*) FROM operations o JOIN users u ON u.id = o.resource_id"
            " WHERE o.method = 'POST' AND o.status = 'applied'")
        assert applied == len(stored)
        rejected = await conn.fetchval("SELECT count(*) FROM operations WHERE status ="
                                       " 'rejected' AND reason_code = 'invalid_value'")
        assert rejected >= bad.count(400)
        # contiguous per-tenant sequences in the outbox, one user.created per user
        for t in load.tenants:
            seqs = [r["sequence"] for r in await conn.fetch(
                "SELECT sequence FROM outbox WHERE tenant_id = $1::uuid ORDER BY sequence",
                t.id)]
            assert seqs == list(range(1, len(seqs) + 1))
        per_tenant = {t.id: await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE tenant_id = $1::uuid", t.id)
            for t in load.tenants}
    finally:
        await conn.close()
    # ... and on the topic, after dedupe by id, in order
    ids = set(per_tenant)

    def complete(records):  # type: ignore[no-untyped-def]
        got = by_tenant([r for r in records if r["tenantid"] in ids])
        return all(len(got.get(t, [])) >= n for t, n in per_tenant.items())

    seen: list[dict[str, object]] = []

    def complete_and_keep(records):  # type: ignore[no-untyped-def]
        seen[:] = records
        return complete(records)

    try:
        records = await read_topic(stack.bootstrap, f"{stack.topic_prefix}.events",
                                   until=complete_and_keep, timeout=60)
    except TimeoutError:
        got = by_tenant([r for r in seen if r["tenantid"] in ids])
        detail = {t: (n, sorted(set(range(1, n + 1))
                                - {e["sequence"] for e in got.get(t, [])})[:20])
                  for t, n in per_tenant.items()}
        raise AssertionError("events missing on the topic (outbox count, first missing): "
                             f"{detail}") from None
    for tenant_id in ids:
        mine = sorted((r for r in records if r["tenantid"] == tenant_id),
                      key=lambda r: (r["partition"], r["offset"]))
        assert in_sequence(mine) == list(range(1, per_tenant[tenant_id] + 1)), _runs(
            [(r["sequence"], r["offset"]) for r in mine])


def in_sequence(events: list[dict[str, object]]) -> list[int]:
    """What a consumer following docs/events.md applies: the next event of a tenant is
    `last + 1`; a smaller sequence is a duplicate, a larger one is ahead of a gap and
    waits for the events that fill it (after a broker reset the relay publishes every
    retained event again, in order). Returns the sequences applied, in order."""
    applied: list[int] = []
    seen: set[object] = set()
    for e in events:
        seq = int(e["sequence"])  # type: ignore[call-overload]
        if e["id"] in seen and seq <= len(applied):
            continue
        if seq == len(applied) + 1:
            applied.append(seq)
            seen.add(e["id"])
    return applied


def _runs(pairs: list[tuple[int, int]]) -> str:
    """(sequence, offset) pairs in topic order as compact runs: 'seq a-b @off c-d'."""
    out: list[str] = []
    start = prev = None
    for seq, off in pairs:
        if start is not None and prev is not None and seq == prev[0] + 1:
            prev = (seq, off)
            continue
        if start is not None and prev is not None:
            out.append(f"{start[0]}-{prev[0]}@{start[1]}-{prev[1]}")
        start = prev = (seq, off)
    if start is not None and prev is not None:
        out.append(f"{start[0]}-{prev[0]}@{start[1]}-{prev[1]}")
    return "topic order (seq@offset runs): " + ", ".join(out)
