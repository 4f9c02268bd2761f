"""/livez, /readyz and /healthz on every service, and the gateway's drain at shutdown (issue 12).

One stack with a long shutdown delay (the draining gateway is observable before it closes
its listener).
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from dsync.devservers.ports import free_port
from dsync_testkit.events import read_topic
from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import SCIM_USER, RunningStack, start_stack

CONSUMERS = ("directory", "roles", "sessions", "fanout")
WAIT_S = 90.0


@pytest.fixture(scope="module")
async def probe_stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(servers.bootstrap, await fresh_database(servers),
                                DSYNC_SHUTDOWN_DELAY_S="8",
                                DSYNC_WRITE_TIMEOUT_S="60")
    try:
        yield running
    finally:
        await running.close()


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as r:
        return r.status, await r.json(content_type=None)


async def _until(http: aiohttp.ClientSession, url: str, status: int,
                 body_says: Callable[[Any], bool] = lambda _: True) -> Any:
    """Poll `url` until it answers `status` with a body that `body_says`; returns the body.
    Connection errors retry."""
    deadline = time.monotonic() + WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        try:
            got, last = await _get(http, url)
            if got == status and body_says(last):
                return last
        except aiohttp.ClientError as exc:
            last = exc
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered {status}; last: {last}")


def _ops_url(stack: RunningStack, service: str) -> str:
    port = stack.supervisor._managed[service].env["DSYNC_METRICS_PORT"]  # noqa: SLF001
    return f"http://127.0.0.1:{port}"


async def test_every_service_answers_livez_readyz_and_healthz(probe_stack: RunningStack) -> None:
    http, base = probe_stack.http, probe_stack.base_url
    assert await _get(http, f"{base}/livez") == (200, {"status": "ok"})
    status, ready = await _get(http, f"{base}/readyz")
    assert status == 200 and ready["checks"] == {"database": "ok", "broker": "ok"}
    status, health = await _get(http, f"{base}/healthz")
    assert status == 200 and set(health) == {"status", "checks"}
    assert all(health["checks"][s] == "ok" for s in CONSUMERS)
    full = await _until(http, f"{base}/healthz?full=1", 200)
    assert full["gateway"] == {"database": "ok", "broker": "ok"}
    for service in CONSUMERS:
        detail = full["services"][service]
        assert detail["instances"] == 1
        assert detail["partitions_assigned"] == list(range(4)) == list(range(detail["partitions"]))
        ops = _ops_url(probe_stack, service)
        assert await _get(http, f"{ops}/livez") == (200, {"status": "ok"})
        assert await _get(http, f"{ops}/readyz") == (200, {"status": "ok",
                                                          "checks": {"consumer": "ok"}})
        status, own = await _get(http, f"{ops}/healthz")
        assert status == 200 and own["partitions"] == list(range(4))
        async with http.get(f"{ops}/metrics") as r:
            exported = await r.text()
        assert f'dsync_consumer_lag{{group="dsync-{service}",service="{service}"' in exported
    async with http.get(f"{_ops_url(probe_stack, 'fanout')}/metrics") as r:
        assert 'dsync_webhook_deliveries{status="dead"} 0.0' in await r.text()
    async with http.get(f"{_ops_url(probe_stack, 'directory')}/metrics") as r:
        assert "dsync_outbox_oldest_unpublished_seconds" in await r.text()


async def test_a_stopped_consumer_fails_healthz_but_not_the_gateways_readiness(
        probe_stack: RunningStack) -> None:
    http, base = probe_stack.http, probe_stack.base_url
    fanout = probe_stack.supervisor.pid("fanout")
    os.kill(fanout, signal.SIGSTOP)
    try:
        body = await _until(http, f"{base}/healthz", 503,
                            lambda b: b["checks"]["fanout"] != "ok")  # its heartbeat is stale
        assert body["checks"]["fanout"] == "0 partitions assigned"
        status, ready = await _get(http, f"{base}/readyz")
        assert status == 200, ready
    finally:
        os.kill(fanout, signal.SIGCONT)
    await _until(http, f"{base}/healthz", 200)


def _spawn_roles(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own module
            [sys.executable, "-m", "dsync_services.roles"], stdout=out, stderr=out,
            env={**env, "DSYNC_METRICS_PORT": str(port), "DSYNC_SERVICE_NAME": "roles"})


async def test_a_replica_beyond_the_partition_count_is_ready(
        servers: Servers, probe_stack: RunningStack) -> None:
    """Two roles replicas on a one-partition topic: one holds it, the other idles, ready."""
    env = {**probe_stack.supervisor.env, "DSYNC_DATABASE_URL": await fresh_database(servers),
           "DSYNC_KAFKA_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:10]}",
           "DSYNC_KAFKA_EVENTS_PARTITIONS": "1", "DSYNC_KAFKA_COMMANDS_PARTITIONS": "1"}
    ports = [free_port(), free_port()]
    procs = [_spawn_roles(env, port, probe_stack.workdir / "logs" / f"roles-{port}.log")
             for port in ports]
    try:
        http = probe_stack.http
        for port in ports:
            await _until(http, f"http://127.0.0.1:{port}/readyz", 200)
        deadline = time.monotonic() + WAIT_S
        held: list[list[int]] = []
        while time.monotonic() < deadline:
            held = [(await _until(http, f"http://127.0.0.1:{p}/healthz", 200))["partitions"]
                    for p in ports]
            if sorted(held) == [[], [0]]:
                break
            await asyncio.sleep(0.3)
        assert sorted(held) == [[], [0]]
        for port in ports:  # both stay ready, the idle one included
            assert (await _get(http, f"http://127.0.0.1:{port}/readyz"))[0] == 200
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await asyncio.to_thread(proc.wait, 30)


async def test_gateway_drains_in_flight_requests_on_sigterm(probe_stack: RunningStack) -> None:
    """SIGTERM: /readyz turns 503 at once, and a write already in flight still gets its 201."""
    tenant = await probe_stack.new_tenant()
    directory = probe_stack.supervisor.pid("directory")
    os.kill(directory, signal.SIGSTOP)  # the write waits for its outcome meanwhile
    try:
        write = asyncio.create_task(probe_stack.scim(tenant, "POST", "/Users", {
            "schemas": [SCIM_USER], "userName": "in-flight@example.com"}))
        # the command is on the broker: the gateway now waits for its outcome
        await read_topic(probe_stack.bootstrap, f"{probe_stack.topic_prefix}.commands",
                         until=lambda records: any(r.get("tenant_id") == tenant.id
                                                   for r in records), timeout=WAIT_S)
        assert not write.done()
        gateway = probe_stack.supervisor.pid("gateway")
        os.kill(gateway, signal.SIGTERM)
        body = await _until(probe_stack.http, f"{probe_stack.base_url}/readyz", 503)
        assert body["checks"] == {"lifecycle": "draining"}
        assert not write.done()
    finally:
        os.kill(directory, signal.SIGCONT)
    status, user, _ = await asyncio.wait_for(write, WAIT_S)
    assert status == 201, user
    assert user["userName"] == "in-flight@example.com"
    deadline = time.monotonic() + WAIT_S
    while probe_stack.supervisor.pid("gateway") == gateway:  # it exits after the drain
        assert time.monotonic() < deadline, "the draining gateway never exited"
        await asyncio.sleep(0.2)
    await probe_stack.wait_healthy()  # the supervisor started a new gateway
