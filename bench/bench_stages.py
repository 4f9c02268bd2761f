"""The stages of `make bench` and their sizes: idle CPU, the workloads per tenant count,
the group growth sweep. `bench()` runs the selected ones in order and returns the figures.
"""
from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from group_growth import group_growth
from measurement import Phase, closed_loop, open_loop
from process_cpu import snapshot, used_between
from scim_client import Bodies, ScimClient, Tenant
from scim_verify import verify
from scim_workloads import WorkloadRun, seed_users
from stack_process import StackProcess

STAGES = ("idle", "create", "get_filter", "patch", "put", "mixed", "group_add", "open_loop",
          "single_write", "group_growth")
WARMUP_OPS = 20  # untimed ops before get_filter, put and mixed (caches, connections)


@dataclass
class Sizes:
    """How much each stage does (ops unless said otherwise)."""

    create: int = 3000
    get_filter: int = 3000
    patch: int = 2000
    put: int = 2000
    mixed: int = 3000
    group_add: int = 100  # PATCHes
    open_loop_s: float = 20.0  # seconds of arrivals at --rate
    single_write: int = 200
    idle_s: float = 20.0
    seed_per_tenant: int = 200  # users seeded for get_filter, put, mixed
    group_seed_per_tenant: int = 500  # users seeded for group_add
    growth_sizes: list[int] = field(default_factory=lambda: [1000, 10_000])
    growth_window: int = 1000  # members added and measured at each size
    max_phase_s: float = 300.0
    pause_s: float = 1.0  # between stages, so the asynchronous consumers catch up
    idle_settle_s: float = 5.0

    @classmethod
    def default(cls, full: bool = False) -> Sizes:
        return cls(growth_sizes=[1000, 10_000, 100_000]) if full else cls()

    @classmethod
    def quick(cls) -> Sizes:
        return cls(create=300, get_filter=300, patch=200, put=200, mixed=300, group_add=20,
                   open_loop_s=3.0, single_write=30, idle_s=5.0, seed_per_tenant=50,
                   group_seed_per_tenant=200, growth_sizes=[1000], growth_window=300,
                   max_phase_s=60.0, pause_s=0.2, idle_settle_s=2.0)


def label_of(stage: str, args: argparse.Namespace) -> tuple[str, str]:
    """Row label and rate unit of a workload stage."""
    c = args.concurrency
    return {"create": (f"create c={c}", "ops"), "get_filter": (f"get_filter c={c}", "ops"),
            "patch": (f"patch deactivate c={c}", "ops"), "put": (f"put replace c={c}", "ops"),
            "mixed": (f"mixed c={c}", "ops"),
            "group_add": (f"group add {args.batch}/PATCH c={args.group_concurrency}",
                          "members"),
            "open_loop": (f"open loop {args.rate:g} creates/s", "ops"),
            "single_write": ("single write c=1", "ops")}[stage]


async def run_workload(stage: str, tenants: list[Tenant], client: ScimClient, bodies: Bodies,
                       rng: random.Random, sizes: Sizes, args: argparse.Namespace,
                       root_pid: int, say: Callable[[str], None]) -> tuple[Phase, dict[str, Any]]:
    """Seed (not measured), run one workload stage, check a sample of its results."""
    kind = "create" if stage in ("open_loop", "single_write") else stage
    run = WorkloadRun(kind, client, bodies, tenants, rng, batch=args.batch)
    n = {"open_loop": int(args.rate * sizes.open_loop_s)}.get(stage) or getattr(sizes, stage)
    seed = {"get_filter": sizes.seed_per_tenant, "put": sizes.seed_per_tenant,
            "mixed": sizes.seed_per_tenant, "patch": -(-n // len(tenants)),  # distinct users
            "group_add": sizes.group_seed_per_tenant}.get(kind, 0)
    if seed:
        if seed * len(tenants) >= 1000:
            say(f"  {stage}: seeding {seed * len(tenants):,} users (POST /Users, not measured)")
        await run.seed(seed)
    if kind == "group_add":
        n = await run.plan_groups(n)
    if kind in ("get_filter", "put", "mixed"):
        for i in range(WARMUP_OPS):
            await run.op(i)
        run.forget_changes()
    if stage == "open_loop":
        phase = await open_loop(run.op, n, args.rate, args.max_in_flight, root_pid,
                                sizes.max_phase_s)
    else:
        c = {"group_add": args.group_concurrency, "single_write": 1}.get(stage, args.concurrency)
        phase = await closed_loop(run.op, n, c, root_pid, sizes.max_phase_s,
                                  units_per_op=args.batch if kind == "group_add" else 1)
    checks = await verify(run, args.verify, rng) if args.verify else {}
    if run.mix:
        checks["mix"] = dict(run.mix)
    return phase, checks


async def measure_idle(root_pid: int, seconds: float, settle_s: float,
                       say: Callable[[str], None]) -> dict[str, Any]:
    """The stack's CPU by group over `seconds` with no requests, after `settle_s`."""
    say(f"idle: settling {settle_s:g} s, then measuring {seconds:g} s with no requests ...")
    await asyncio.sleep(settle_s)
    before = snapshot(root_pid)
    await asyncio.sleep(seconds)
    cpu = used_between(before, snapshot(root_pid))
    say(f"  idle: {100 * sum(cpu.values()) / seconds:.1f}% of one core")
    return {"seconds": seconds, "cpu_s": cpu}


class Aborted(Exception):
    """The stack is failing: the remaining stages would measure nothing but errors."""


async def run_stage(stage: str, count: int, tenants: list[Tenant], client: ScimClient,
                    bodies: Bodies, rng: random.Random, sizes: Sizes, args: argparse.Namespace,
                    stack: StackProcess, say: Callable[[str], None],
                    rows: list[dict[str, Any]]) -> None:
    """--repeat runs of one workload stage; appends its row of figures to rows."""
    label, unit = label_of(stage, args)
    row: dict[str, Any] = {"stage": stage, "label": label, "unit": unit, "phases": [],
                           "verify": [], "failed": []}
    rows.append(row)
    for r in range(args.repeat):
        stack.check_alive()
        try:
            phase, checks = await run_workload(stage, tenants, client, bodies, rng, sizes, args,
                                               stack.pid, say)
        except RuntimeError as exc:  # a setup step (seeding, POST /Groups) failed
            row["failed"].append(str(exc))
            raise Aborted(f"{count}t {label}: {exc}") from exc
        row["phases"].append(phase)
        row["verify"].append(checks)
        rate = phase.units_per_s if unit != "ops" else phase.ops_per_s
        say(f"{count}t {label} #{r + 1}: {phase.ops:,} ops {rate:,.0f} {unit}/s "
            f"p50 {phase.latency_ms(50) or 0:.1f} ms p99 {phase.latency_ms(99) or 0:.1f} ms, "
            f"{phase.cpu_ms_per_op() or 0:.2f} CPU-ms/op, errors {dict(phase.errors) or 0}, "
            f"verified {checks.get('checked', 0)} failed {checks.get('failed', 0)}")
        if phase.ops and sum(phase.errors.values()) > phase.ops / 2:
            raise Aborted(f"{count}t {label}: more than half of the requests failed "
                          f"{dict(phase.errors)}")
        await asyncio.sleep(sizes.pause_s)


async def bench(session: aiohttp.ClientSession, args: argparse.Namespace, sizes: Sizes,
                stack: StackProcess, tenant_tokens: dict[int, list[tuple[str, str]]],
                rng: random.Random, run_id: str, say: Callable[[str], None],
                results: dict[str, Any]) -> None:
    """Run the selected stages in order, filling `results` as they finish (so an
    interrupted or aborted bench still has the figures so far)."""
    client = ScimClient(session, stack.base_url + "/scim/v2", args.timeout)
    bodies = Bodies(run_id, rng)
    tenant_sets = {n: [Tenant(name, token) for name, token in pairs]
                   for n, pairs in tenant_tokens.items()}
    for tenants in tenant_sets.values():  # warm-up: connections, token caches, first writes
        await seed_users(client, bodies, tenants, 10, concurrency=4)
    if "idle" in args.stages:
        results["idle"] = await measure_idle(stack.pid, sizes.idle_s, sizes.idle_settle_s, say)
    workloads = [s for s in STAGES if s in args.stages and s not in ("idle", "group_growth")]
    for count, tenants in tenant_sets.items():
        rows = results["by_tenants"].setdefault(count, [])
        for stage in workloads:
            await run_stage(stage, count, tenants, client, bodies, rng, sizes, args, stack, say,
                            rows)
    if "group_growth" in args.stages:
        stack.check_alive()
        tenant = max((t for ts in tenant_sets.values() for t in ts), key=lambda t: len(t.users))
        say(f"group growth: sizes {sizes.growth_sizes}, {sizes.growth_window:,} members "
            f"measured at each, tenant {tenant.name} ({len(tenant.users):,} users)")
        results["group_growth"] = await group_growth(
            client, bodies, tenant, sizes.growth_sizes, sizes.growth_window, args.repeat,
            args.batch, args.group_concurrency, stack.pid, say)
