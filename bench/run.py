"""`make bench`: throughput and latency of SCIM writes through the whole stack.

Starts embedded PostgreSQL + broker and every service as a process, then drives
`POST /Users` from a concurrent client over several tenants, in rounds, and prints
throughput and p50/p95/p99 per round plus the median over rounds. Numbers, not asserts.

Usage: python bench/run.py [--tenants 10] [--concurrency 32] [--requests 2000] [--rounds 3]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from common import boot, percentiles

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


async def round_of_writes(stack, tenants, concurrency: int, total: int, tag: str):  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(total))

    async def worker(w: int) -> None:
        for i in counter:
            tenant = tenants[i % len(tenants)]
            body = {"schemas": [SCIM_USER], "userName": f"{tag}-{i}@example.com",
                    "name": {"givenName": "Bench", "familyName": str(i)},
                    "emails": [{"value": f"{tag}-{i}@example.com", "type": "work",
                                "primary": True}], "active": True}
            start = time.perf_counter()
            status, _, _ = await stack.scim(tenant, "POST", "/Users", body)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - start
    return total / elapsed, percentiles(latencies), statuses


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tenants", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print("starting the stack (embedded PostgreSQL + broker, 5 services) ...", flush=True)
    t0 = time.perf_counter()
    servers, stack = await boot()
    print(f"healthy after {time.perf_counter() - t0:.1f}s", flush=True)
    try:
        tenants = [await stack.new_tenant(f"bench-{i}") for i in range(args.tenants)]
        await round_of_writes(stack, tenants, 4, 100, "warmup")
        rates, p50s, p99s = [], [], []
        print(f"POST /Users: {args.tenants} tenants, concurrency {args.concurrency}, "
              f"{args.requests} requests per round")
        for r in range(args.rounds):
            rate, pct, statuses = await round_of_writes(stack, tenants, args.concurrency,
                                                        args.requests, f"r{r}")
            rates.append(rate)
            p50s.append(pct["p50"])
            p99s.append(pct["p99"])
            print(f"  round {r + 1}: {rate:7.1f} writes/s  p50 {pct['p50']:6.1f} ms  "
                  f"p95 {pct['p95']:6.1f} ms  p99 {pct['p99']:6.1f} ms  statuses {statuses}",
                  flush=True)
        print(f"median over rounds: {statistics.median(rates):.1f} writes/s "
              f"(min {min(rates):.1f}, max {max(rates):.1f}); "
              f"p50 {statistics.median(p50s):.1f} ms; p99 {statistics.median(p99s):.1f} ms "
              f"(min {min(p99s):.1f}, max {max(p99s):.1f})")
    finally:
        await stack.close()
        servers.stop()


if __name__ == "__main__":
    asyncio.run(main())
