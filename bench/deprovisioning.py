"""Deprovisioning lag: from the SCIM answer to the last session revoked.

Starts embedded PostgreSQL + broker and every service as a process (bench/common.py).

1. One user with `--sessions` sessions (default 1,000), deactivated by PATCH, `--rounds`
   times with fresh users: the bench checks introspection is inactive right after the
   answer, then polls until every session is revoked.
2. A burst: `--users` users (default 10,000) with one session each, all deactivated by
   concurrent PATCHes (`--concurrency` in flight).

Lag is reported three ways:
  * `metric`: the sessions service's `dsync_deprovisioning_lag_seconds` histogram (event
    time -> revocation commit), quantiles interpolated within buckets as Prometheus does;
  * `ledger`: per user, `completed_at - received_at` of its `session_revocation` operation
    (event time -> end of its revocation work, just before commit);
  * `client` (scenario 1): SCIM answer received -> bench sees all sessions revoked (5 ms poll).

Usage: python bench/deprovisioning.py [--sessions 1000] [--rounds 5] [--users 10000]
                                      [--concurrency 32]
"""
from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp
import asyncpg
from common import RunningStack, boot, percentiles

from dsync.db import DbConnection

PATCH = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
         "Operations": [{"op": "replace", "value": {"active": False}}]}
LAG_METRIC = "dsync_deprovisioning_lag_seconds_bucket"


async def _bounded(n: int, concurrency: int, job: Any) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with sem:
            return await job(i)
    return await asyncio.gather(*(one(i) for i in range(n)))


async def _histogram(stack: RunningStack) -> dict[float, float]:
    port = stack.supervisor.per_service_env["sessions"]["DSYNC_METRICS_PORT"]
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{port}/metrics") as r:
        text = await r.text()
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(LAG_METRIC):
            le = line.split('le="')[1].split('"')[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(line.split()[-1])
    return buckets


def _quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float:
    """histogram_quantile over the observations between two snapshots, in ms."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0
    if not total:
        return float("nan")
    rank, prev_b, prev_c = q * total, 0.0, 0.0
    for b, c in zip(bounds, counts, strict=True):
        if c >= rank:
            if b == float("inf"):
                return prev_b * 1000
            return (prev_b + (b - prev_b) * (rank - prev_c) / max(c - prev_c, 1e-9)) * 1000
        prev_b, prev_c = b, c
    return prev_b * 1000


async def _ledger_lags(db: DbConnection, tenant_id: str) -> list[float]:
    rows = await db.fetch("SELECT extract(epoch FROM completed_at - received_at) AS lag"
                          " FROM operations WHERE tenant_id = $1 AND kind = 'session_revocation'"
                          " AND status = 'applied'", tenant_id)
    return [float(r["lag"]) for r in rows]


async def _live(db: DbConnection, tenant_id: str) -> int:
    return await db.fetchval("SELECT count(*) FROM sessions WHERE tenant_id = $1"  # type: ignore[no-any-return]
                             " AND revoked_at IS NULL", tenant_id)


async def one_user_many_sessions(stack: RunningStack, db: DbConnection, sessions: int,
                                 rounds: int) -> None:
    tenant = await stack.new_tenant("bench-one-user")
    client: list[float] = []
    h0 = await _histogram(stack)
    for r in range(rounds):
        uid = (await stack.create_user(tenant, f"many-{r}@example.com"))["id"]

        async def issue(_: int, uid: str = uid) -> str:
            st, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                         {"user_id": uid})
            assert st == 201, body
            return body["token"]  # type: ignore[no-any-return]

        tokens = await _bounded(sessions, 16, issue)
        status, _, _ = await stack.scim(tenant, "PATCH", f"/Users/{uid}", PATCH)
        answered = time.perf_counter()
        assert status == 200
        st, intro = await stack.admin("POST", "/auth/v1/introspect", {"token": tokens[-1]})
        assert intro == {"active": False}, intro
        while await _live(db, tenant.id):  # noqa: ASYNC110 - polling is the measurement
            await asyncio.sleep(0.005)
        client.append(time.perf_counter() - answered)
    h1 = await _histogram(stack)
    ledger = await _ledger_lags(db, tenant.id)
    _report(f"1 user x {sessions} sessions, {rounds} rounds", h0, h1, ledger, client)


async def burst(stack: RunningStack, db: DbConnection, users: int,
                concurrency: int) -> None:
    tenant = await stack.new_tenant("bench-burst")
    t0 = time.perf_counter()
    ids = await _bounded(users, concurrency, lambda i: stack.create_user(
        tenant, f"burst-{i}@example.com"))
    uids = [u["id"] for u in ids]

    async def issue(i: int) -> None:
        st, body = await stack.admin("POST", f"/admin/v1/tenants/{tenant.id}/sessions",
                                     {"user_id": uids[i]})
        assert st == 201, body

    await _bounded(users, concurrency, issue)
    print(f"  set-up: {users} users + sessions in {time.perf_counter() - t0:.0f}s", flush=True)
    h0 = await _histogram(stack)
    t1 = time.perf_counter()

    async def deactivate(i: int) -> None:
        status, body, _ = await stack.scim(tenant, "PATCH", f"/Users/{uids[i]}", PATCH)
        assert status == 200, body

    await _bounded(users, concurrency, deactivate)
    answered = time.perf_counter() - t1
    while await _live(db, tenant.id):  # noqa: ASYNC110 - polling is the measurement
        await asyncio.sleep(0.05)
    done = time.perf_counter() - t1
    print(f"  {users} PATCHes answered in {answered:.1f}s ({users / answered:.0f}/s); "
          f"last session revoked {done:.1f}s after the first PATCH", flush=True)
    h1 = await _histogram(stack)
    _report(f"burst of {users} users deactivated", h0, h1, await _ledger_lags(db, tenant.id))


def _report(title: str, h0: dict[float, float], h1: dict[float, float], ledger: list[float],
            client: list[float] | None = None) -> None:
    print(f"{title}:")
    print(f"  metric : p50 {_quantile(.5, h0, h1):8.1f} ms  p99 {_quantile(.99, h0, h1):8.1f} ms"
          f"  ({int(h1.get(float('inf'), 0) - h0.get(float('inf'), 0))} observations)")
    p = percentiles(ledger)
    print(f"  ledger : p50 {p['p50']:8.1f} ms  p99 {p['p99']:8.1f} ms  ({len(ledger)} users)")
    if client:
        p = percentiles(client)
        print(f"  client : p50 {p['p50']:8.1f} ms  p99 {p['p99']:8.1f} ms")
    print(flush=True)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    print("starting the stack (embedded PostgreSQL + broker, 5 services) ...", flush=True)
    servers, stack = await boot()
    db = await asyncpg.connect(stack.database_url)
    try:
        await one_user_many_sessions(stack, db, args.sessions, args.rounds)
        if args.users:
            await burst(stack, db, args.users, args.concurrency)
    finally:
        await db.close()
        await stack.close()
        servers.stop()


if __name__ == "__main__":
    asyncio.run(main())
