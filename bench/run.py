"""`make bench`: start the stack as `make run` does and measure it the way an IdP loads it.

Starts `python -m dsync_services.stack` (embedded PostgreSQL + broker + the five services)
with a temporary state directory on a free port, waits for /healthz, then runs, for each
tenant count of --tenants-list (operations round-robin over the tenants):

  create        POST /Users, closed loop c=8
  get_filter    GET /Users?filter=userName eq "…", c=8 (seeded users)
  patch         PATCH deactivate, c=8, each op a distinct seeded user
  put           GET + PUT profile push, c=8 (seeded users)
  mixed         60% get_filter / 20% put / 10% create / 10% patch, c=8
  group_add     PATCH add 100 members per request, c=4 (figures in members/s)
  open_loop     POST /Users arriving at 300/s, latency from each scheduled time
  single_write  POST /Users at c=1 (the latency of one write alone)
and once:
  idle          stack CPU over 20 s with no requests (% of one core, by process)
  group_growth  member adds into a group of 1k, 10k (--full: 100k) members (µs/member)

For each it prints ops/s, p50/p99 latency, the stack's CPU-ms per op (utime+stime of the
stack process and all its descendants, from /proc, by process group), errors (non-2xx and
transport failures) and a checked sample of the results. Seeding is not measured.
Usage: python bench/run.py [--quick | --full] [--repeat 3] [--tenants-list 1,4]
       [--workloads create,patch] [--json FILE]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from typing import Any

import aiohttp
from bench_stages import STAGES, Aborted, Sizes, bench
from report import cpu_table, growth_table, idle_table, workload_table
from stack_process import StackProcess

START = time.perf_counter()


def say(msg: str) -> None:
    print(f"[bench {time.perf_counter() - START:6.1f}s] {msg}", flush=True)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run of ~1 min")
    ap.add_argument("--full", action="store_true", help="also group growth to 100k members")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each workload (min/med/max)")
    ap.add_argument("--tenants-list", default="1,4", help="tenant counts, e.g. 1,4")
    ap.add_argument("--workloads", default=",".join(STAGES),
                    help=f"subset of {','.join(STAGES)}")
    ap.add_argument("--json", help="write every figure to this file")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--group-concurrency", type=int, default=4)
    ap.add_argument("--batch", type=int, default=100, help="members per group PATCH")
    ap.add_argument("--rate", type=float, default=300.0, help="open loop arrivals per second")
    ap.add_argument("--max-in-flight", type=int, default=512, help="open loop cap")
    ap.add_argument("--verify", type=int, default=50, help="results checked per run (0: off)")
    ap.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    ap.add_argument("--random-seed", type=int, default=1)
    ap.add_argument("--keep-state", action="store_true", help="keep the stack's temp dir/logs")
    ap.add_argument("--one-stack", action="store_true",
                    help="run every stage on one stack (default: a fresh stack per stage, as"
                         " the embedded broker's fetch cost grows with the batches it holds)")
    args = ap.parse_args()
    args.tenant_counts = [int(x) for x in args.tenants_list.split(",") if x.strip()]
    args.stages = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.stages) - set(STAGES)
    if unknown or not args.tenant_counts or min(args.tenant_counts) < 1 or args.repeat < 1:
        ap.error(f"unknown workloads {sorted(unknown)}" if unknown else "bad counts")
    return args


def print_report(results: dict[str, Any], args: argparse.Namespace) -> bool:
    """Print the tables; True if every stage ran without errors or failed checks."""
    print()
    for count, rows in results["by_tenants"].items():
        title = f"{count} tenant{'s' if count > 1 else ''}"
        print(f"== {title}: throughput, latency, stack CPU per op "
              f"({args.repeat} run{'s' if args.repeat > 1 else ''} each) ==")
        print(workload_table([(r["label"], r["unit"], r["phases"], r["verify"]) for r in rows]))
        print("(verified: a sample re-read after the run; get_filter checks every answer as it"
              " arrives, a wrong one counts as an error)")
        print(f"\n== {title}: stack CPU-ms per op by process ==")
        print(cpu_table([(r["label"], r["phases"]) for r in rows]))
        print()
    if results.get("idle"):
        print("== idle: stack CPU with no requests ==")
        print(idle_table(results["idle"]))
        print()
    growth_ok = True
    if results.get("group_growth"):
        g = results["group_growth"]
        growth_ok = g["missing_on_read_back"] == 0 and not any(
            w["phase"].errors for w in g["windows"])
        print(f"== group growth: PATCH add {g['batch']} members, c={g['concurrency']}, "
              f"{g['window']:,} members per measurement ==")
        print(growth_table(g))
        print(f"read back: {g['members_added']:,} members added, missing "
              f"{g['missing_on_read_back']}")
        print()
    problems = [(f"{count}t {r['label']}", p.errors, v) for count, rows in
                results["by_tenants"].items() for r in rows
                for p, v in zip(r["phases"], r["verify"] or [{}] * len(r["phases"]), strict=True)
                if p.errors or v.get("failed")]
    failed = [(f"{count}t {r['label']}", msg) for count, rows in results["by_tenants"].items()
              for r in rows for msg in r["failed"]]
    for label, msg in failed:
        print(f"FAILED {label}: {msg}")
    print("errors: none" if not problems else "errors and failed checks:")
    for label, errors, check in problems:
        print(f"  {label}: errors {dict(errors)}; checks {check.get('failures')} "
              f"{check.get('examples', [])[:2]}")
    if results["restarted"]:
        print(f"services restarted during the bench: {results['restarted']}")
    if results["aborted"]:
        print(f"ABORTED, remaining stages not run: {results['aborted']}")
    return growth_ok and not (problems or failed or results["restarted"] or results["aborted"])


def jsonable(value: Any) -> Any:
    if hasattr(value, "summary"):
        return value.summary()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def stack_runs(args: argparse.Namespace) -> list[tuple[list[str], list[int]]]:
    """(stages, tenant counts) of each stack the bench starts: one for everything with
    --one-stack, else one per stage and tenant count (idle and group growth on their own)."""
    if args.one_stack:
        return [(args.stages, args.tenant_counts)]
    runs: list[tuple[list[str], list[int]]] = []
    if "idle" in args.stages:
        runs.append((["idle"], [1]))
    runs += [([stage], [count]) for count in args.tenant_counts for stage in args.stages
             if stage not in ("idle", "group_growth")]
    if "group_growth" in args.stages:
        runs.append((["group_growth"], [1]))
    return runs


def run_on_fresh_stack(args: argparse.Namespace, sizes: Sizes,
                       results: dict[str, Any]) -> None:
    """Start a stack, create the tenants, run `args.stages`, stop it; figures go to
    `results`. Raises Aborted / RuntimeError when a stage cannot go on."""
    say(f"starting a stack for {','.join(args.stages)} x {args.tenant_counts} tenants; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    stack = StackProcess(keep_state=args.keep_state)
    try:
        stack.start()
        say(f"healthy on port {stack.port} (stack pid {stack.pid}, state {stack.state_dir})")
        tenant_tokens = {n: [(f"bench-{n}t-{i}", stack.create_tenant(f"bench-{n}t-{i}"))
                             for i in range(n)] for n in args.tenant_counts}
        pids_before = stack.service_pids()
        try:
            asyncio.run(run_all(args, sizes, stack, tenant_tokens, results))
        finally:
            pids_after = stack.service_pids()
            results["restarted"] += sorted(s for s in pids_before
                                           if pids_after.get(s) != pids_before[s])
    finally:
        say("stopping the stack (SIGTERM)")
        stack.stop()


def main() -> None:
    args = parse_args()
    sizes = Sizes.quick() if args.quick else Sizes.default(full=args.full)
    results: dict[str, Any] = {"by_tenants": {}, "restarted": [], "aborted": None}
    for stages, counts in stack_runs(args):
        try:
            run_on_fresh_stack(argparse.Namespace(**{**vars(args), "stages": stages,
                                                     "tenant_counts": counts}), sizes, results)
        except KeyboardInterrupt:
            results["aborted"] = "interrupted"
        except (Aborted, RuntimeError) as exc:
            results["aborted"] = str(exc)
        if results["aborted"]:
            break
    clean = print_report(results, args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(jsonable({"params": {**vars(args), "sizes": vars(sizes)}, **results}),
                      fh, indent=1)
        say(f"figures written to {args.json}")
    sys.exit(0 if clean else 1)


async def run_all(args: argparse.Namespace, sizes: Sizes, stack: StackProcess,
                  tenant_tokens: dict[int, list[tuple[str, str]]],
                  results: dict[str, Any]) -> None:
    connector = aiohttp.TCPConnector(limit=args.max_in_flight + 32, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector,
                                     skip_auto_headers=["Accept-Encoding"]) as session:
        await bench(session, args, sizes, stack, tenant_tokens,
                    random.Random(args.random_seed), uuid.uuid4().hex[:8], say, results)


if __name__ == "__main__":
    main()
