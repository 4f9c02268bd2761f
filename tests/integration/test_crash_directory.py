"""SIGKILL the directory while writes flow: nothing acknowledged is lost, nothing doubles."""
from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import SCIM_USER, RunningStack, start_stack


@pytest.fixture(scope="module")
async def crash_stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_WRITE_TIMEOUT_S="4")
    try:
        yield running
    finally:
        await running.close()


async def test_sigkill_directory_under_load_loses_and_duplicates_nothing(
        crash_stack: RunningStack) -> None:
    stack = crash_stack
    tenants = [await stack.new_tenant() for _ in range(4)]
    outcomes: dict[str, int] = {}
    stop_at = time.monotonic() + 8.0

    async def writer(t, n):  # type: ignore[no-untyped-def]
        i = 0
        while time.monotonic() < stop_at:
            name = f"{t.name}-{n}-{i}@example.com"
            status, _, _ = await stack.scim(t, "POST", "/Users",
                                            {"schemas": [SCIM_USER], "userName": name})
            outcomes[name] = status
            i += 1

    async def killer() -> None:
        await asyncio.sleep(2.0)
        stack.supervisor.kill("directory", signal.SIGKILL)

    await asyncio.gather(killer(), *(writer(t, n) for t in tenants for n in range(3)))
    assert set(outcomes.values()) <= {201, 503}, outcomes
    assert list(outcomes.values()).count(201) > 10
    assert stack.supervisor._managed["directory"].restarts >= 1  # noqa: SLF001

    conn = await asyncpg.connect(stack.database_url)
    try:
        # every accepted operation completes once the directory is back
        deadline = time.monotonic() + 60
        while await conn.fetchval("SELECT count(*) FROM operations WHERE status = 'accepted'"):
            assert time.monotonic() < deadline, "operations still pending after restart"
            await asyncio.sleep(0.5)
        stored = {r["user_name"]: r["n"] for r in await conn.fetch(
            "SELECT user_name, count(*) AS n FROM users GROUP BY user_name")}
        acknowledged = [n for n, s in outcomes.items() if s == 201]
        assert all(stored.get(n) == 1 for n in acknowledged)       # nothing 2xx lost
        assert set(stored) <= set(outcomes)                       # nothing invented
        # a 503 was still applied, exactly once
        assert all(stored.get(n) == 1 for n, s in outcomes.items() if s == 503)
        created = await conn.fetch(
            "SELECT event->>'subject' AS s, count(*) AS n FROM outbox"
            " WHERE event->>'type' = 'user.created' GROUP BY 1")
        assert all(r["n"] == 1 for r in created) and len(created) == len(stored)
        for t in tenants:
            seqs = [r["sequence"] for r in await conn.fetch(
                "SELECT sequence FROM outbox WHERE tenant_id = $1::uuid ORDER BY sequence",
                t.id)]
            assert seqs == list(range(1, len(seqs) + 1))
    finally:
        await conn.close()


async def test_timeout_answers_503_and_the_idp_retry_gets_409(crash_stack: RunningStack) -> None:
    """The directory is paused: the write answers 503 with Retry-After and an operation id,
    is still applied once, and the IdP's retry gets the SCIM-correct 409 with the user
    findable by filter."""
    from urllib.parse import quote

    stack = crash_stack
    tenant = await stack.new_tenant()
    body = {"schemas": [SCIM_USER], "userName": "slow@example.com"}
    stack.supervisor.kill("directory", signal.SIGSTOP)
    try:
        status, error, headers = await stack.scim(tenant, "POST", "/Users", body)
    finally:
        stack.supervisor.kill("directory", signal.SIGCONT)
    assert status == 503, error
    assert int(headers["Retry-After"]) >= 1
    op_id = headers["Dsync-Operation-Id"]
    assert op_id in error["detail"]
    deadline = time.monotonic() + 30
    while True:
        status, retry, _ = await stack.scim(tenant, "POST", "/Users", body)
        if status != 503:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.5)
    assert status == 409 and retry["scimType"] == "uniqueness"
    status, found, _ = await stack.scim(
        tenant, "GET", "/Users?filter=" + quote('userName eq "slow@example.com"'))
    assert found["totalResults"] == 1
    status, op = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/operations/{op_id}")
    assert status == 200 and op["status"] == "applied" and op["attempts"] == 1
    status, ops = await stack.admin("GET",
                                    f"/admin/v1/tenants/{tenant.id}/operations?status=rejected")
    # every retry is its own operation: one that also timed out (503) while the directory
    # caught up is applied later, as another 409
    reasons = [o["reason_code"] for o in ops["operations"]]
    assert reasons and set(reasons) == {"uniqueness"}
