"""Webhooks end to end: SCIM write -> directory -> dsync.events -> fanout -> a real HTTP
receiver on 127.0.0.1 (docs/webhooks.md).

The stack runs with small backoff settings so retries and `dead` happen in about a second.
"""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from dsync_services.fanout.signing import verify
from dsync_testkit.plugin import Servers, fresh_database
from dsync_testkit.stack import SCIM_USER, RunningStack, Tenant, start_stack

SECRET = "whsec_test_secret"  # noqa: S105 - test secret
MAX_ATTEMPTS = 4
ATTEMPT_TIMEOUT_S = 1.0


@dataclass
class Hit:
    at: float
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


@dataclass
class Route:
    """How one receiver path answers: `plan(n)` -> status for the n-th request (0-based),
    or None to hang past the attempt timeout."""

    plan: Callable[[int], int | None] = lambda n: 200
    hits: list[Hit] = field(default_factory=list)

    def delivered(self) -> list[dict[str, Any]]:
        """Events acknowledged with 2xx, in arrival order."""
        return [h.event for h in self.hits if 200 <= h.status < 300]


class Receiver:
    """An aiohttp server on 127.0.0.1; each test registers its own path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    def route(self, plan: Callable[[int], int | None] = lambda n: 200) -> tuple[str, Route]:
        name = uuid.uuid4().hex[:10]
        self.routes[name] = Route(plan)
        return f"{self.base_url}/hooks/{name}", self.routes[name]

    async def _handle(self, request: web.Request) -> web.Response:
        route = self.routes[request.match_info["name"]]
        body = await request.read()
        status = route.plan(len(route.hits))
        route.hits.append(Hit(time.monotonic(), status or 0, dict(request.headers), body))
        if status is None:
            await asyncio.sleep(ATTEMPT_TIMEOUT_S * 3)
            status = 200
        return web.Response(status=status, text="ok" if status < 300 else "nope")


@pytest.fixture(scope="module")
async def hooks_stack(servers: Servers) -> AsyncIterator[RunningStack]:
    running = await start_stack(
        servers.bootstrap, await fresh_database(servers),
        DSYNC_WEBHOOK_BACKOFF_BASE_S="0.05", DSYNC_WEBHOOK_BACKOFF_CAP_S="0.2",
        DSYNC_WEBHOOK_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        DSYNC_WEBHOOK_TIMEOUT_S=str(ATTEMPT_TIMEOUT_S), DSYNC_WEBHOOK_POLL_INTERVAL_S="0.2")
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


async def wait_for(check: Callable[[], Any], seconds: float = 20.0, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.05)


async def register(stack: RunningStack, tenant: Tenant, url: str, **extra: Any) -> str:
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/webhooks",
                                     {"url": url, "secret": SECRET, **extra})
    assert status == 201, body
    return body["id"]  # type: ignore[no-any-return]


async def churn(stack: RunningStack, tenant: Tenant, n: int) -> list[str]:
    """n users created, every third deactivated: returns the user ids."""
    ids = []
    for i in range(n):
        user = await stack.create_user(tenant, f"u{i}-{uuid.uuid4().hex[:6]}@example.com")
        ids.append(user["id"])
        if i % 3 == 2:
            status, body, _ = await stack.scim(tenant, "PATCH", f"/Users/{user['id']}", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": False}]})
            assert status == 200, body
    return ids


def expected_count(n: int) -> int:
    return n + n // 3


def sequences(events: list[dict[str, Any]]) -> list[int]:
    return [e["sequence"] for e in events]


async def deliveries(stack: RunningStack, tenant: Tenant, wid: str) -> list[dict[str, Any]]:
    status, body = await stack.admin(
        "GET", f"/admin/v1/tenants/{tenant.id}/webhooks/{wid}/deliveries?limit=1000")
    assert status == 200, body
    return body["deliveries"]  # type: ignore[no-any-return]


async def webhook(stack: RunningStack, tenant: Tenant, wid: str) -> dict[str, Any]:
    status, body = await stack.admin("GET", f"/admin/v1/tenants/{tenant.id}/webhooks/{wid}")
    assert status == 200, body
    return body  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------- the tests
async def test_signed_events_arrive_in_order(hooks_stack: RunningStack,
                                             receiver: Receiver) -> None:
    tenant = await hooks_stack.new_tenant()
    url, route = receiver.route()
    wid = await register(hooks_stack, tenant, url)
    await churn(hooks_stack, tenant, 6)
    n = expected_count(6)
    await wait_for(lambda: len(route.delivered()) >= n, what="all events")
    events = route.delivered()
    assert sequences(events) == list(range(1, n + 1))
    assert {e["tenantid"] for e in events} == {tenant.id}
    assert events[0]["type"] == "user.created" and events[0]["specversion"] == "1.0"
    assert "user.deactivated" in {e["type"] for e in events}
    for hit in route.hits:
        header = hit.headers["Dsync-Signature"]
        assert verify(header, hit.body, SECRET, now=time.time())
        assert not verify(header, hit.body, "wrong-secret", now=time.time())
        assert hit.headers["Dsync-Event-Id"] == hit.event["id"]
        assert hit.headers["Content-Type"].startswith("application/json")
        # Standard Webhooks, verified by the reference library with the same secret
        assert Webhook(SECRET.encode()).verify(hit.body, dict(hit.headers)) == hit.event
        assert hit.headers["webhook-id"] == hit.event["id"]
    listed = await wait_for(lambda: _all_delivered(hooks_stack, tenant, wid, n))
    assert all(d["attempts"] == 1 and d["last_error"] is None for d in listed)
    assert {d["event_id"] for d in listed} == {e["id"] for e in events}


async def _all_delivered(stack: RunningStack, tenant: Tenant, wid: str,
                         n: int) -> list[dict[str, Any]] | None:
    listed = await deliveries(stack, tenant, wid)
    ok = len(listed) == n and all(d["status"] == "delivered" for d in listed)
    return listed if ok else None


async def test_failing_receiver_gets_everything_in_order_with_attempts_logged(
        hooks_stack: RunningStack, receiver: Receiver) -> None:
    tenant = await hooks_stack.new_tenant()
    failures = MAX_ATTEMPTS - 1
    url, route = receiver.route(lambda n: 500 if n < failures else 200)
    wid = await register(hooks_stack, tenant, url)
    await churn(hooks_stack, tenant, 5)
    n = expected_count(5)
    await wait_for(lambda: len(route.delivered()) >= n, what="all events after retries")
    assert sequences(route.delivered()) == list(range(1, n + 1))
    # the failures were all of the first event: nothing overtook it
    assert [h.event["sequence"] for h in route.hits[:failures + 1]] == [1] * (failures + 1)
    listed = await wait_for(lambda: _all_delivered(hooks_stack, tenant, wid, n))
    first = next(d for d in listed if d["sequence"] == 1)
    assert first["attempts"] == failures + 1 and first["last_status_code"] == 200
    assert "HTTP 500" in first["last_error"]
    assert [a["outcome"] for a in first["log"]] == ["http_status"] * failures + ["ok"]
    assert [a["status_code"] for a in first["log"]] == [500] * failures + [200]
    assert all(a["latency_ms"] >= 0 for a in first["log"])
    op = await _operation(hooks_stack, first["operation_id"])
    assert op["kind"] == "webhook_delivery" and op["status"] == "applied"
    assert op["reason_code"] == "http_status" and op["attempts"] == failures + 1
    assert op["resource_id"] == uuid.UUID(wid)


async def _operation(stack: RunningStack, op_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM operations WHERE id = $1::uuid", op_id)
    finally:
        await conn.close()
    assert row is not None
    return dict(row)


async def test_dead_endpoint_is_paused_without_slowing_a_healthy_tenant_then_resume_replays(
        hooks_stack: RunningStack, receiver: Receiver) -> None:
    broken, healthy = await hooks_stack.new_tenant(), await hooks_stack.new_tenant()
    down = {"on": True}
    slow_url, slow = receiver.route(lambda n: None if down["on"] else 200)  # hangs: timeouts
    good_url, good = receiver.route()
    sibling_url, sibling = receiver.route()  # a healthy endpoint of the broken tenant
    broken_wid = await register(hooks_stack, broken, slow_url)
    await register(hooks_stack, broken, sibling_url)
    await register(hooks_stack, healthy, good_url)

    async def healthy_writes() -> list[float]:
        answered = []
        for i in range(6):
            await hooks_stack.create_user(healthy, f"h{i}@example.com")
            answered.append(time.monotonic())
            await asyncio.sleep(0.15)
        return answered

    started = time.monotonic()
    broken_task = asyncio.create_task(churn(hooks_stack, broken, 4))
    answered = await healthy_writes()
    await broken_task
    await wait_for(lambda: len(good.delivered()) >= 6, what="healthy receiver")
    lags = [hit.at - t for hit, t in zip(good.hits, answered, strict=True)]
    # the healthy tenant got every event promptly while the broken one was timing out
    assert sequences(good.delivered()) == list(range(1, 7))
    assert max(lags) < ATTEMPT_TIMEOUT_S, lags
    assert good.hits[-1].at < started + MAX_ATTEMPTS * ATTEMPT_TIMEOUT_S
    # ...and so did the broken tenant's other endpoint: queues are per endpoint
    await wait_for(lambda: len(sibling.delivered()) >= expected_count(4), what="sibling")
    assert sequences(sibling.delivered()) == list(range(1, expected_count(4) + 1))
    assert sibling.hits[-1].at < started + MAX_ATTEMPTS * ATTEMPT_TIMEOUT_S

    hook = await wait_for(lambda: _paused(hooks_stack, broken, broken_wid), seconds=30,
                          what="broken endpoint paused")
    assert "dead" in hook["paused_reason"]
    assert [h.event["sequence"] for h in slow.hits] == [1] * MAX_ATTEMPTS  # never overtaken
    n = expected_count(4)
    listed = await deliveries(hooks_stack, broken, broken_wid)
    by_seq = {d["sequence"]: d for d in listed}
    assert by_seq[1]["status"] == "dead" and by_seq[1]["attempts"] == MAX_ATTEMPTS
    assert {a["outcome"] for a in by_seq[1]["log"]} == {"timeout"}
    assert all(by_seq[s]["status"] == "pending" for s in range(2, n + 1))
    op = await _operation(hooks_stack, by_seq[1]["operation_id"])
    assert (op["status"], op["reason_code"], op["retryable"]) == ("dead", "timeout", True)

    # events keep queueing while paused, then resume replays everything in order
    await churn(hooks_stack, broken, 1)
    n += 1
    await asyncio.sleep(0.5)
    assert len(slow.hits) == MAX_ATTEMPTS
    down["on"] = False
    status, body = await hooks_stack.admin(
        "POST", f"/admin/v1/tenants/{broken.id}/webhooks/{broken_wid}/resume")
    assert status == 200 and body["status"] == "active" and body["requeued"] == 1
    await wait_for(lambda: len(slow.delivered()) >= n, what="replay after resume")
    assert sequences(slow.delivered()) == list(range(1, n + 1))


async def _paused(stack: RunningStack, tenant: Tenant, wid: str) -> dict[str, Any] | None:
    hook = await webhook(stack, tenant, wid)
    return hook if hook["status"] == "paused" else None


async def test_redelivery_by_event_and_by_time_range(hooks_stack: RunningStack,
                                                     receiver: Receiver) -> None:
    tenant = await hooks_stack.new_tenant()
    url, route = receiver.route()
    wid = await register(hooks_stack, tenant, url)
    await churn(hooks_stack, tenant, 3)
    n = expected_count(3)
    await wait_for(lambda: len(route.delivered()) >= n)
    await wait_for(lambda: _all_delivered(hooks_stack, tenant, wid, n))
    second = route.delivered()[1]
    base = f"/admin/v1/tenants/{tenant.id}/webhooks/{wid}"
    status, body = await hooks_stack.admin("POST", f"{base}/redeliver",
                                           {"event_id": second["id"]})
    assert status == 202 and body == {"redelivered": 1}
    await wait_for(lambda: len(route.delivered()) >= n + 1)
    assert route.delivered()[n]["id"] == second["id"]
    status, body = await hooks_stack.admin("POST", f"{base}/redeliver",
                                           {"from": "2000-01-01T00:00:00Z"})
    assert status == 202 and body == {"redelivered": n}
    await wait_for(lambda: len(route.delivered()) >= 2 * n + 1)
    assert sequences(route.delivered()[n + 1:]) == list(range(1, n + 1))
    status, body = await hooks_stack.admin("POST", f"{base}/redeliver",
                                           {"event_id": str(uuid.uuid4())})
    assert status == 404
    status, body = await hooks_stack.admin("POST", f"{base}/redeliver", {})
    assert status == 400


async def test_registration_refuses_unsafe_targets(hooks_stack: RunningStack,
                                                   receiver: Receiver) -> None:
    tenant = await hooks_stack.new_tenant()
    path = f"/admin/v1/tenants/{tenant.id}/webhooks"
    for url in ("http://10.0.0.1/hook", "http://192.168.1.10:8080/x", "http://[fd00::1]/",
                "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:8080/"):
        status, body = await hooks_stack.admin("POST", path, {"url": url, "secret": "s"})
        assert status == 400 and body["error"] == "target_refused", (url, body)
    for url in ("ftp://example.com/", "http://user:pw@example.com/", "not a url", None):
        status, body = await hooks_stack.admin("POST", path, {"url": url, "secret": "s"})
        assert status == 400 and body["error"] == "invalid_url", (url, body)
    status, body = await hooks_stack.admin("POST", path, {"url": receiver.base_url,
                                                          "events": ["user.nope"]})
    assert status == 400 and body["error"] == "invalid_value"
    # the test stack allows loopback (DSYNC_WEBHOOK_ALLOW_LOOPBACK=true), as `make run` does
    status, body = await hooks_stack.admin("POST", path, {"url": "http://localhost:1/x"})
    assert status == 201 and body["secret"].startswith("whsec_")
    status, listing = await hooks_stack.admin("GET", path)
    assert [w["url"] for w in listing["webhooks"]] == ["http://localhost:1/x"]


async def test_delivery_time_check_refuses_a_target_that_became_private(
        hooks_stack: RunningStack) -> None:
    """DNS rebinding stand-in: the stored URL now points at a private address."""
    tenant = await hooks_stack.new_tenant()
    wid = uuid.uuid4()
    conn = await asyncpg.connect(hooks_stack.database_url)
    try:
        await conn.execute("INSERT INTO webhooks (id, tenant_id, url, secret) VALUES"
                           " ($1, $2::uuid, 'http://10.0.0.1:9/hook', 's')", wid, tenant.id)
    finally:
        await conn.close()
    await hooks_stack.create_user(tenant, "rebind@example.com")
    hook = await wait_for(lambda: _paused(hooks_stack, tenant, str(wid)), what="paused")
    listed = await deliveries(hooks_stack, tenant, str(wid))
    assert {a["outcome"] for a in listed[0]["log"]} == {"ssrf_refused"}
    assert "private" in listed[0]["last_error"] and "10.0.0.1" in hook["paused_reason"]
    op = await _operation(hooks_stack, listed[0]["operation_id"])
    assert op["reason_code"] == "ssrf_refused" and op["retryable"] is False


async def test_event_filter_rotation_and_crud(hooks_stack: RunningStack,
                                              receiver: Receiver) -> None:
    tenant, other = await hooks_stack.new_tenant(), await hooks_stack.new_tenant()
    url, route = receiver.route()
    wid = await register(hooks_stack, tenant, url, events=["user.deactivated"])
    base = f"/admin/v1/tenants/{tenant.id}/webhooks/{wid}"
    await churn(hooks_stack, tenant, 3)
    await wait_for(lambda: route.delivered())
    assert [e["type"] for e in route.delivered()] == ["user.deactivated"]
    assert route.delivered()[0]["sequence"] == 4  # sequences are the tenant's, with gaps

    status, body = await hooks_stack.admin("POST", f"{base}/rotate-secret",
                                           {"secret": "new-secret", "overlap_s": 60})
    assert status == 200 and body["previous_secret_expires_at"] and "secret" not in body
    await churn(hooks_stack, tenant, 3)
    await wait_for(lambda: len(route.delivered()) >= 2)
    hit = route.hits[-1]
    header = hit.headers["Dsync-Signature"]
    assert header.count("v1=") == 2
    assert verify(header, hit.body, "new-secret", now=time.time())
    assert verify(header, hit.body, SECRET, now=time.time())
    status, body = await hooks_stack.admin("POST", f"{base}/rotate-secret", {"overlap_s": 0})
    assert status == 200 and body["secret"] and body["previous_secret_expires_at"] is None

    status, got = await hooks_stack.admin("GET", base)
    assert status == 200 and got["events"] == ["user.deactivated"] and "secret" not in got
    assert got["queue"] == {"pending": 0, "retrying": 0, "dead": 0}
    status, _ = await hooks_stack.admin("GET", f"/admin/v1/tenants/{other.id}/webhooks/{wid}")
    assert status == 404  # another tenant's endpoint does not exist for this one
    status, body = await hooks_stack.admin("GET", f"{base}/attempts")
    assert status == 200 and len(body["attempts"]) == 2
    status, _ = await hooks_stack.admin("DELETE", base)
    assert status == 204
    status, _ = await hooks_stack.admin("GET", base)
    assert status == 404
    status, _, _ = await hooks_stack.scim(tenant, "POST", "/Users",
                                          {"schemas": [SCIM_USER], "userName": "late@x.com"})
    assert status == 201
