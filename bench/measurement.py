"""A measured phase: drive operations in a closed or an open loop, record each outcome and
its latency, and read the stack's CPU (by process group) and the client's CPU around it.

Closed loop: `concurrency` workers, each sends its next request when its previous answer
has arrived; latency is the request's own time. Open loop: request i is scheduled at
t0 + i/rate and its latency is counted from that scheduled time, so a server that falls
behind is charged for the queue it causes (no coordinated omission); at most
`max_in_flight` requests are in flight, and one waiting for a slot is still on the clock.
Latency percentiles are nearest-rank, over the successful operations.
"""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from process_cpu import snapshot, used_between
from scim_client import outcome_of_exception

Op = Callable[[int], Awaitable[str]]


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = -(-p * len(sorted_values) // 100)  # ceil
    return sorted_values[max(0, min(len(sorted_values) - 1, int(rank) - 1))]


@dataclass
class Phase:
    """What one measured phase did and cost."""

    ops: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # outcome -> count, non-ok only
    latencies_ms: list[float] = field(default_factory=list)  # ok ops
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # stack CPU by process group
    client_cpu_s: float = 0.0
    units_per_op: int = 1  # members per PATCH for group adds

    def record(self, outcome: str, latency_ms: float) -> None:
        self.ops += 1
        if outcome == "ok":
            self.ok += 1
            self.latencies_ms.append(latency_ms)
        else:
            self.errors[outcome] += 1

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.wall_s if self.wall_s else 0.0

    @property
    def units_per_s(self) -> float:
        return self.ok * self.units_per_op / self.wall_s if self.wall_s else 0.0

    def latency_ms(self, p: float) -> float | None:
        return percentile(sorted(self.latencies_ms), p)

    @property
    def cpu_total_s(self) -> float:
        return sum(self.cpu_s.values())

    def cpu_ms_per_op(self, group: str | None = None) -> float | None:
        cpu = self.cpu_total_s if group is None else self.cpu_s.get(group, 0.0)
        return 1000 * cpu / self.ops if self.ops else None

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        def r3(v: float | None) -> float | None:
            return None if v is None else round(v, 3)

        return {
            "ops": self.ops, "ok": self.ok, "errors": dict(self.errors),
            "wall_s": r3(self.wall_s), "ops_per_s": r3(self.ops_per_s),
            "units_per_op": self.units_per_op, "units_per_s": r3(self.units_per_s),
            "latency_ms": {"p50": r3(percentile(lat, 50)), "p90": r3(percentile(lat, 90)),
                           "p99": r3(percentile(lat, 99)), "max": r3(lat[-1] if lat else None)},
            "stack_cpu_s": {g: r3(v) for g, v in self.cpu_s.items()},
            "stack_cpu_ms_per_op": r3(self.cpu_ms_per_op()),
            "stack_cpu_ms_per_op_by_group": {g: r3(self.cpu_ms_per_op(g)) for g in self.cpu_s},
            "client_cpu_ms_per_op": r3(1000 * self.client_cpu_s / self.ops if self.ops else None),
        }


async def _outcome(op: Op, i: int) -> str:
    try:
        return await op(i)
    except Exception as exc:  # noqa: BLE001 - every failure is an outcome to count
        return outcome_of_exception(exc)


class _Meter:
    """Stack CPU, client CPU and wall time around a phase."""

    def __init__(self, root_pid: int, phase: Phase) -> None:
        self.root_pid, self.phase = root_pid, phase

    def __enter__(self) -> _Meter:
        self.cpu0 = snapshot(self.root_pid)
        self.client0 = time.process_time()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.phase.wall_s = time.perf_counter() - self.t0
        self.phase.client_cpu_s = time.process_time() - self.client0
        self.phase.cpu_s = used_between(self.cpu0, snapshot(self.root_pid))


async def closed_loop(op: Op, n: int, concurrency: int, root_pid: int,
                      max_s: float = 300.0, units_per_op: int = 1) -> Phase:
    """n operations by `concurrency` workers (stops early after max_s)."""
    phase = Phase(units_per_op=units_per_op)
    next_i = 0

    async def worker() -> None:
        nonlocal next_i
        while next_i < n and time.perf_counter() < deadline:
            i, next_i = next_i, next_i + 1
            start = time.perf_counter()
            outcome = await _outcome(op, i)
            phase.record(outcome, (time.perf_counter() - start) * 1000)

    with _Meter(root_pid, phase):
        deadline = time.perf_counter() + max_s
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return phase


async def open_loop(op: Op, n: int, rate: float, max_in_flight: int, root_pid: int,
                    max_s: float = 300.0) -> Phase:
    """n operations arriving at `rate` per second, whatever the answers do."""
    phase = Phase()
    slots = asyncio.Semaphore(max_in_flight)

    async def one(i: int, scheduled: float) -> None:
        async with slots:
            outcome = await _outcome(op, i)
        phase.record(outcome, (time.perf_counter() - scheduled) * 1000)

    with _Meter(root_pid, phase):
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            scheduled = t0 + i / rate
            now = time.perf_counter()
            if now - t0 > max_s:
                break
            if scheduled > now:
                await asyncio.sleep(scheduled - now)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        await asyncio.gather(*tasks)
    return phase
