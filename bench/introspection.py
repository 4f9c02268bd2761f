"""Introspection latency and throughput under concurrent load.

Starts embedded PostgreSQL + broker and every service as a process (bench/common.py),
creates users (mapped to roles through a group when /Groups is available) and sessions,
then POSTs `/auth/v1/introspect` from `--clients` client processes x `--concurrency`
in-flight requests each, for `--seconds`, in `--rounds` rounds. Every answer must be
`active: true` with the expected roles. Prints p50/p95/p99 and requests per second.

Usage: python bench/introspection.py [--users 100] [--sessions 1000] [--clients 2]
                                     [--concurrency 16] [--seconds 10] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import statistics
import time
from typing import Any

import aiohttp
from common import RunningStack, boot, percentiles

SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


async def _setup(stack: RunningStack, users: int, sessions: int) -> tuple[list[str], list[str]]:
    tenant = await stack.new_tenant("bench-introspect")
    sem = asyncio.Semaphore(16)

    async def mk_user(i: int) -> str:
        async with sem:
            return (await stack.create_user(tenant, f"intro-{i}@example.com"))["id"]  # type: ignore[no-any-return]

    ids = await asyncio.gather(*(mk_user(i) for i in range(users)))
    roles: list[str] = []
    status, body, _ = await stack.scim(tenant, "POST", "/Groups", {
        "schemas": [SCIM_GROUP], "displayName": "bench", "members": [{"value": i} for i in ids]})
    if status == 201:
        roles = ["bench-admin", "bench-reader", "bench-writer"]
        status, _ = await stack.admin(
            "PUT", f"/admin/v1/tenants/{tenant.id}/group-roles/{body['id']}", {"roles": roles})
        assert status == 200
    else:
        print(f"  (POST /Groups answered {status}: sessions carry no roles)")

    async def mk_session(i: int) -> str:
        async with sem:
            st, b = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                      {"user_id": ids[i % len(ids)]})
            assert st == 201, b
            return b["token"]  # type: ignore[no-any-return]

    tokens = await asyncio.gather(*(mk_session(i) for i in range(sessions)))
    return list(tokens), roles


async def _load(url: str, admin: str, tokens: list[str], roles: list[str], concurrency: int,
                seconds: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {admin}"}
    deadline = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as http:
        async def worker() -> None:
            nonlocal errors
            rng = random.Random()  # noqa: S311
            while time.perf_counter() < deadline:
                token = rng.choice(tokens)
                start = time.perf_counter()
                async with http.post(url, json={"token": token}, headers=headers) as r:
                    body = await r.json()
                latencies.append(time.perf_counter() - start)
                if r.status != 200 or body.get("active") is not True or body["roles"] != roles:
                    errors += 1
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def _client(args: tuple[str, str, list[str], list[str], int, float]) -> tuple[list[float], int]:
    return asyncio.run(_load(*args))


def _round(stack: RunningStack, tokens: list[str], roles: list[str], clients: int,
           concurrency: int, seconds: float) -> dict[str, Any]:
    url = f"{stack.base_url}/auth/v1/introspect"
    job = (url, stack.admin_token, tokens, roles, concurrency, seconds)
    start = time.perf_counter()
    with mp.get_context("spawn").Pool(clients) as pool:
        results = pool.map(_client, [job] * clients)
    elapsed = time.perf_counter() - start
    lat = [x for r in results for x in r[0]]
    return {"rps": len(lat) / seconds, "errors": sum(r[1] for r in results),
            "requests": len(lat), "wall_s": elapsed, **percentiles(lat)}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print("starting the stack (embedded PostgreSQL + broker, 5 services) ...", flush=True)
    servers, stack = await boot()
    try:
        tokens, roles = await _setup(stack, args.users, args.sessions)
        await asyncio.to_thread(_round, stack, tokens, roles, 1, 4, 1.0)  # warm-up
        print(f"POST /auth/v1/introspect: {len(tokens)} sessions of {args.users} users, "
              f"{args.clients} client processes x {args.concurrency} in flight, "
              f"{args.seconds:.0f}s per round")
        rows = []
        for i in range(args.rounds):
            row = await asyncio.to_thread(_round, stack, tokens, roles, args.clients,
                                          args.concurrency, args.seconds)
            rows.append(row)
            print(f"  round {i + 1}: {row['rps']:7.0f} req/s  p50 {row['p50']:6.2f} ms  "
                  f"p95 {row['p95']:6.2f} ms  p99 {row['p99']:6.2f} ms  "
                  f"({row['requests']} requests, {row['errors']} wrong answers)", flush=True)
        med = {k: statistics.median(r[k] for r in rows) for k in ("rps", "p50", "p95", "p99")}
        print(f"  median : {med['rps']:7.0f} req/s  p50 {med['p50']:6.2f} ms  "
              f"p95 {med['p95']:6.2f} ms  p99 {med['p99']:6.2f} ms")
    finally:
        await stack.close()
        servers.stop()


if __name__ == "__main__":
    asyncio.run(main())
