"""Noisy neighbour: does tenant A, flooding at its limits, slow tenant B down?

Starts the stack as `make run` does, seeds tenant A with users (so its filters cost
something), gives A a rate limit and a concurrency cap (PUT /admin/v1/tenants/{A}/limits),
then measures tenant B's `create_users` latency in an open loop at `--rate-b` per second:
alone, and while A floods from a separate client process with expensive filtered searches
(`co`/`ew`/`or`, sorted) and user creates, as fast as the gateway lets it (429s are
counted, not waited out). The two phases alternate for `--rounds` rounds (alone, flood,
alone, flood, ...), so that neither gets the shorter broker log or the quieter minutes of
the machine; B's latencies are pooled per phase. Prints B's p50/p99 in each phase, the p99
ratio (pooled, and per round), and what A got through.

    .venv/bin/python bench/noisy_tenant.py [--seconds 20] [--rounds 3] [--rate-b 50]
                                            [--a-rate 50] [--a-concurrency 8]
                                            [--a-workers 32] [--seed-users 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable
from typing import Any

import aiohttp
from measurement import Phase, open_loop
from scim_client import Bodies, ScimClient, Tenant, outcome_of
from stack_process import StackProcess

EXPENSIVE_FILTERS = (
    'displayName co "a" or emails.value ew "9@example.com"',
    'name.familyName co "o" and not (userName sw "z")',
    'emails[value co "." and type eq "work"] or externalId co "Q"',
)


def _admin(stack: StackProcess, method: str, path: str, body: Any) -> Any:
    req = urllib.request.Request(  # noqa: S310 - our own URL
        stack.base_url + path, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {stack.admin_token}",
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310
        return json.load(r)


async def _seed(base: str, tenant: Tenant, n: int) -> None:
    bodies = Bodies("seed", random.Random(1))  # noqa: S311 - test data
    async with aiohttp.ClientSession() as session:
        client = ScimClient(session, base, 60)
        for start in range(0, n, 200):
            ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
                    "data": bodies.user()} for i in range(start, min(n, start + 200))]
            status, _ = await client.call(tenant, "POST", "/Bulk", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": ops}, parse=False)
            if status != 200:
                raise RuntimeError(f"seeding answered {status}")


async def _flood(base: str, token: str, seconds: float, workers: int) -> dict[str, Any]:
    tenant = Tenant("A", token)
    bodies = Bodies(f"a{int(time.time())}", random.Random(2))  # noqa: S311
    outcomes: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = ScimClient(session, base, 60)

        async def worker(n: int) -> None:
            i = n
            while time.perf_counter() < deadline:
                i += workers
                try:
                    if i % 4 == 0:
                        status, _ = await client.call(tenant, "POST", "/Users", bodies.user(),
                                                      parse=False)
                        kind = "write"
                    else:
                        status, _ = await client.call(tenant, "POST", "/Users/.search", {
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                            "filter": EXPENSIVE_FILTERS[i % len(EXPENSIVE_FILTERS)],
                            "sortBy": "name.familyName", "count": 100}, parse=False)
                        kind = "search"
                    outcomes[f"{kind}:{outcome_of(status)}"] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    outcomes[f"error:{type(exc).__name__}"] += 1

        await asyncio.gather(*(worker(n) for n in range(workers)))
    return dict(outcomes)


def _flood_process(base: str, token: str, seconds: float, workers: int,
                   out: Any) -> None:
    out.put(asyncio.run(_flood(base, token, seconds, workers)))


async def _b_phase(stack: StackProcess, tenant: Tenant, rate: float, seconds: float,
                   label: str) -> Phase:
    bodies = Bodies(label, random.Random(3))  # noqa: S311
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        client = ScimClient(session, stack.base_url + "/scim/v2", 60)

        async def op(_i: int) -> str:
            outcome, _user = await client.create_user(tenant, bodies.user())
            return outcome

        return await open_loop(op, int(rate * seconds), rate, 256, stack.pid)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20, help="length of each phase")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alone/flood phase pairs, alternating")
    ap.add_argument("--rate-b", type=float, default=50)
    ap.add_argument("--a-rate", type=float, default=50, help="A's rate limit (requests/s)")
    ap.add_argument("--a-burst", type=int, default=50)
    ap.add_argument("--a-concurrency", type=int, default=8, help="A's concurrency cap")
    ap.add_argument("--a-workers", type=int, default=32, help="A's concurrent clients")
    ap.add_argument("--seed-users", type=int, default=1000)
    args = ap.parse_args()
    stack = StackProcess()
    stack.start()
    try:
        base = stack.base_url + "/scim/v2"
        a = Tenant("A", stack.create_tenant("noisy-a"))
        b = Tenant("B", stack.create_tenant("quiet-b"))
        tenants = json.load(urllib.request.urlopen(urllib.request.Request(  # noqa: S310
            stack.base_url + "/admin/v1/tenants",
            headers={"Authorization": f"Bearer {stack.admin_token}"}), timeout=30))
        a_id = next(t["id"] for t in tenants["tenants"] if t["name"] == "noisy-a")
        print(f"seeding tenant A with {args.seed_users} users ...", flush=True)
        asyncio.run(_seed(base, a, args.seed_users))
        _admin(stack, "PUT", f"/admin/v1/tenants/{a_id}/limits",
               {"tier": "bench", "rate_per_s": args.a_rate, "burst": args.a_burst,
                "max_concurrency": args.a_concurrency})
        asyncio.run(_b_phase(stack, b, args.rate_b, 3, "warm"))  # warm-up, not reported
        rounds: list[tuple[Phase, Phase]] = []
        a_outcomes: Counter[str] = Counter()
        for n in range(args.rounds):
            print(f"round {n + 1}/{args.rounds}: B alone, then under A's flood ...",
                  flush=True)
            alone = asyncio.run(_b_phase(stack, b, args.rate_b, args.seconds, f"alone{n}"))
            results: Any = multiprocessing.get_context("spawn").Queue()
            flood = multiprocessing.get_context("spawn").Process(
                target=_flood_process, args=(base, a.token, args.seconds + 4,
                                             args.a_workers, results))
            flood.start()
            time.sleep(2)  # A's flood is at full strength before B is measured
            loaded = asyncio.run(_b_phase(stack, b, args.rate_b, args.seconds, f"flood{n}"))
            a_outcomes.update(results.get(timeout=120))
            flood.join(60)
            rounds.append((alone, loaded))
    finally:
        stack.stop()
    alone, loaded = _pooled(r[0] for r in rounds), _pooled(r[1] for r in rounds)
    p99_alone, p99_loaded = alone.latency_ms(99), loaded.latency_ms(99)
    ratio = _ratio(alone, loaded)
    per_round = [_ratio(a_phase, f_phase) for a_phase, f_phase in rounds]
    a_total = sum(a_outcomes.values())
    print(json.dumps({
        "b_rate_per_s": args.rate_b, "seconds": args.seconds, "rounds": args.rounds,
        "a_limits": {"rate_per_s": args.a_rate, "burst": args.a_burst,
                     "max_concurrency": args.a_concurrency, "workers": args.a_workers},
        "b_alone": alone.summary(), "b_under_flood": loaded.summary(),
        "p99_ms_by_round": [[_round1(a_phase.latency_ms(99)), _round1(f_phase.latency_ms(99))]
                            for a_phase, f_phase in rounds],
        "a_outcomes": dict(a_outcomes),
        "a_requests_per_s": round(a_total / ((args.seconds + 4) * args.rounds), 1),
    }, indent=2))
    for label, phase in (("alone", alone), ("under A's flood", loaded)):
        used = {g: round(100 * cpu / phase.wall_s, 1) for g, cpu in phase.cpu_s.items()
                if cpu > 0} if phase.wall_s else {}
        print(f"stack CPU while B ran {label} (% of one core): {used}")
    print(f"\nB create_users at {args.rate_b:g}/s, {args.rounds} rounds of {args.seconds:g} s"
          f" each: p50 {alone.latency_ms(50):.1f} ms alone, {loaded.latency_ms(50):.1f} ms"
          f" under A's flood; p99 {p99_alone:.1f} ms alone, {p99_loaded:.1f} ms under A's"
          f" flood; ratio {ratio:.2f}x (goal ≤ 2x); by round: "
          + ", ".join(f"{r:.2f}x" for r in per_round if r is not None))


def _round1(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _ratio(alone: Phase, loaded: Phase) -> float | None:
    a, f = alone.latency_ms(99), loaded.latency_ms(99)
    return f / a if a and f else None


def _pooled(phases: Iterable[Phase]) -> Phase:
    """One phase holding the operations, latencies, time and CPU of several."""
    pooled = Phase()
    for phase in phases:
        pooled.ops += phase.ops
        pooled.ok += phase.ok
        pooled.errors.update(phase.errors)
        pooled.latencies_ms.extend(phase.latencies_ms)
        pooled.wall_s += phase.wall_s
        pooled.client_cpu_s += phase.client_cpu_s
        for group, cpu in phase.cpu_s.items():
            pooled.cpu_s[group] = pooled.cpu_s.get(group, 0.0) + cpu
    return pooled


if __name__ == "__main__":
    main()
