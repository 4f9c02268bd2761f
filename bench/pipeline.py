"""Pipeline throughput: sustained SCIM writes/s across 50 tenants with and without group
commit, and p99 latency at half the sustained rate (open-loop, paced arrivals).

Each configuration gets its own stack (embedded servers): group commit on
(`DSYNC_DIRECTORY_MAX_BATCH=500`) and off (`=1`, one transaction per command).
Usage: python bench/pipeline.py [--tenants 50] [--seconds 15] [--concurrency 64]
"""
from __future__ import annotations

import argparse
import asyncio
import time

from common import boot, percentiles

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


async def closed_loop(stack, tenants, seconds: float, concurrency: int, tag: str):  # type: ignore[no-untyped-def]
    done = 0
    stop_at = time.monotonic() + seconds
    statuses: dict[int, int] = {}

    async def worker(w: int) -> None:
        nonlocal done
        i = 0
        while time.monotonic() < stop_at:
            t = tenants[(w + i) % len(tenants)]
            status, _, _ = await stack.scim(t, "POST", "/Users", {
                "schemas": [USER], "userName": f"{tag}-{w}-{i}@bench.test"})
            statuses[status] = statuses.get(status, 0) + 1
            done += status == 201
            i += 1

    start = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return done / (time.monotonic() - start), statuses


async def paced(stack, tenants, rate: float, seconds: float, tag: str):  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    tasks = []

    async def one(i: int) -> None:
        t = tenants[i % len(tenants)]
        t0 = time.perf_counter()
        await stack.scim(t, "POST", "/Users", {"schemas": [USER],
                                              "userName": f"{tag}-{i}@bench.test"})
        latencies.append(time.perf_counter() - t0)

    start = time.monotonic()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return percentiles(latencies)


async def measure(max_batch: int, args: argparse.Namespace) -> None:
    servers, stack = await boot(DSYNC_DIRECTORY_MAX_BATCH=str(max_batch),
                                DSYNC_KAFKA_COMMANDS_PARTITIONS="16")
    try:
        tenants = [await stack.new_tenant(f"p{i}") for i in range(args.tenants)]
        await closed_loop(stack, tenants, 2, 8, f"warm{max_batch}")
        rate, statuses = await closed_loop(stack, tenants, args.seconds, args.concurrency,
                                           f"c{max_batch}")
        half = paced_rate = rate / 2
        pct = await paced(stack, tenants, paced_rate, args.seconds, f"h{max_batch}")
        label = "on " if max_batch > 1 else "off"
        print(f"group commit {label} (max batch {max_batch}): sustained {rate:7.1f} writes/s "
              f"over {args.tenants} tenants {statuses}; at {half:.0f}/s: p50 {pct['p50']:.1f} ms"
              f"  p99 {pct['p99']:.1f} ms", flush=True)
    finally:
        await stack.close()
        servers.stop()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    for max_batch in (500, 1):
        await measure(max_batch, args)


if __name__ == "__main__":
    asyncio.run(main())
