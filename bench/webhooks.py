"""Webhook delivery: throughput to 1 and to N receivers, and end-to-end lag.

Starts embedded PostgreSQL + broker and every service as a process (bench/common.py) and
an aiohttp receiver on 127.0.0.1 that answers 200 and verifies every signature.

1. one receiver: its endpoint is paused, `--events` events are queued (SCIM creates),
   the endpoint is resumed and the time until the receiver got them all is measured
   (pure delivery throughput, in order);
2. `--receivers` endpoints on one tenant, same procedure with `--fanout-events` events
   (deliveries = events x receivers);
3. lag: `--lag-events` sequential SCIM creates, ~`--rate`/s, with one live endpoint;
   time from the SCIM answer to the receiver getting the `user.created` (p50/p95/p99).

Numbers, not asserts. Usage: python bench/webhooks.py [--events 2000] [--receivers 100]
                             [--fanout-events 100] [--lag-events 300] [--rate 20]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import defaultdict
from typing import Any

import asyncpg
from aiohttp import web
from common import RunningStack, boot, percentiles

from dsync_services.fanout.signing import verify

SECRET = "bench-secret"  # noqa: S105 - a test receiver's secret


class Receiver:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.seqs: dict[str, list[int]] = defaultdict(list)
        self.subjects: dict[str, float] = {}
        self.bad_signatures = 0
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{name}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
        self.url = f"http://127.0.0.1:{port}"

    async def handle(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        body = await request.read()
        if not verify(request.headers.get("Dsync-Signature", ""), body, SECRET, now=time.time()):
            self.bad_signatures += 1
        event = json.loads(body)
        name = request.match_info["name"]
        self.times[name].append(now)
        self.seqs[name].append(event["sequence"])
        self.subjects.setdefault(event["subject"], now)
        return web.Response(text="ok")


async def create_users(stack: RunningStack, tenant: Any, n: int, tag: str,
                       concurrency: int = 32) -> None:
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await stack.create_user(tenant, f"{tag}-{i}@example.com")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def register(stack: RunningStack, tenant: Any, url: str) -> str:
    status, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/webhooks",
                                     {"url": url, "secret": SECRET})
    assert status == 201, body
    return body["id"]  # type: ignore[no-any-return]


async def wait_until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


async def throughput(stack: RunningStack, receiver: Receiver, receivers: int, events: int,
                     tag: str) -> tuple[float, float]:
    """(deliveries/s, seconds) from resume until every receiver got every event, in order."""
    tenant = await stack.new_tenant(f"bench-{tag}")
    names = [f"{tag}-{i}" for i in range(receivers)]
    hooks = [await register(stack, tenant, f"{receiver.url}/{n}") for n in names]
    base = f"/admin/v1/tenants/{tenant.id}/webhooks"
    for wid in hooks:
        assert (await stack.admin("POST", f"{base}/{wid}/pause"))[0] == 200
    await create_users(stack, tenant, events, tag)
    conn = await asyncpg.connect(stack.database_url)
    try:
        async def queued() -> bool:
            count = await conn.fetchval("SELECT count(*) FROM webhook_deliveries"
                                        " WHERE tenant_id = $1::uuid", tenant.id)
            return bool(count == events * receivers)
        await wait_until(queued, 120, "deliveries queued")
    finally:
        await conn.close()
    start = time.monotonic()
    await asyncio.gather(*(stack.admin("POST", f"{base}/{wid}/resume") for wid in hooks))

    async def received() -> bool:
        return all(len(receiver.times[n]) >= events for n in names)
    await wait_until(received, 600, "deliveries received")
    last = max(receiver.times[n][-1] for n in names)
    for n in names:
        assert receiver.seqs[n] == list(range(1, events + 1)), f"order broken for {n}"
    elapsed = last - start
    return events * receivers / elapsed, elapsed


async def lag(stack: RunningStack, receiver: Receiver, events: int,
              rate: float) -> dict[str, float]:
    tenant = await stack.new_tenant("bench-lag")
    await register(stack, tenant, f"{receiver.url}/lag")
    answered: dict[str, float] = {}
    for i in range(events):
        user = await stack.create_user(tenant, f"lag-{i}@example.com")
        answered[user["id"]] = time.monotonic()
        await asyncio.sleep(1 / rate)

    async def all_in() -> bool:
        return all(s in receiver.subjects for s in answered)
    await wait_until(all_in, 60, "lag events received")
    return percentiles([receiver.subjects[s] - t for s, t in answered.items()])


async def main(args: argparse.Namespace) -> None:
    servers, stack = await boot(DSYNC_DB_POOL_MAX="10", DSYNC_WEBHOOK_MAX_PER_TENANT="1000")
    receiver = Receiver()
    await receiver.start()
    try:
        print(f"webhook bench: {args.events} events to 1 receiver, {args.fanout_events} events"
              f" to {args.receivers} receivers, {args.lag_events} lag samples")
        rate, secs = await throughput(stack, receiver, 1, args.events, "one")
        print(f"  1 receiver:    {rate:8.0f} events/s delivered ({args.events} in {secs:.2f}s)")
        rate, secs = await throughput(stack, receiver, args.receivers, args.fanout_events, "many")
        total = args.receivers * args.fanout_events
        print(f"  {args.receivers} receivers: {rate:8.0f} deliveries/s ({total} in {secs:.2f}s)")
        p = await lag(stack, receiver, args.lag_events, args.rate)
        print(f"  end-to-end lag (SCIM answer -> webhook received): p50 {p['p50']:.1f} ms,"
              f" p95 {p['p95']:.1f} ms, p99 {p['p99']:.1f} ms")
        print(f"  bad signatures: {receiver.bad_signatures}")
    finally:
        if receiver.runner:
            await receiver.runner.cleanup()
        await stack.close()
        servers.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--receivers", type=int, default=100)
    parser.add_argument("--fanout-events", type=int, default=100)
    parser.add_argument("--lag-events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0)
    asyncio.run(main(parser.parse_args()))
