"""Aligned text tables of the bench figures. With several runs of a workload a cell reads
`median (min–max)`; with one run, just the value."""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from measurement import Phase
from process_cpu import GROUPS


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """First column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def spread(values: Sequence[float | None], fmt: str = "{:,.1f}") -> str:
    """`median (min–max)` of the values, or the single value."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return fmt.format(vals[0])
    return (f"{fmt.format(statistics.median(vals))} "
            f"({fmt.format(min(vals))}–{fmt.format(max(vals))})")


def _by(phases: list[Phase], f: Callable[[Phase], float | None], fmt: str = "{:,.1f}") -> str:
    return spread([f(p) for p in phases], fmt)


def workload_table(runs: list[tuple[str, str, list[Phase], list[dict[str, Any]]]]) -> str:
    """One row per workload: (label, unit, phases, verify summaries)."""
    rows = []
    for label, unit, phases, checks in runs:
        if not phases:
            rows.append([label, "-", "FAILED", unit, *["-"] * 6])
            continue
        rate = spread([p.units_per_s if unit != "ops" else p.ops_per_s for p in phases],
                      "{:,.0f}")
        errors = sum(sum(p.errors.values()) for p in phases)
        failed = sum(c.get("failed", 0) for c in checks)
        checked = sum(c.get("checked", 0) for c in checks)
        rows.append([label, f"{sum(p.ops for p in phases) // len(phases):,}", rate, unit,
                     _by(phases, lambda p: p.latency_ms(50)),
                     _by(phases, lambda p: p.latency_ms(99)),
                     _by(phases, lambda p: p.cpu_ms_per_op(), "{:.2f}"),
                     _by(phases, lambda p: 1000 * p.client_cpu_s / p.ops if p.ops else None,
                         "{:.2f}"),
                     str(errors), f"{checked - failed}/{checked}" if checked else "-"])
    return table(["workload", "n", "rate", "unit/s", "p50 ms", "p99 ms", "CPU-ms/op",
                  "client CPU-ms/op", "errors", "verified"], rows)


def _groups(cpu_maps: list[dict[str, float]]) -> list[str]:
    return [g for g in GROUPS if any(abs(m.get(g, 0.0)) >= 0.005 for m in cpu_maps)]


def cpu_table(runs: list[tuple[str, list[Phase]]]) -> str:
    """CPU-ms per op of the stack by process group, one row per workload."""
    runs = [(label, phases) for label, phases in runs if phases]
    groups = _groups([p.cpu_s for _, phases in runs for p in phases])
    def of_group(g: str) -> Callable[[Phase], float | None]:
        return lambda p: p.cpu_ms_per_op(g)

    rows = [[label, *(_by(phases, of_group(g), "{:.2f}") for g in groups),
             _by(phases, lambda p: p.cpu_ms_per_op(), "{:.2f}")] for label, phases in runs]
    return table(["CPU-ms per op", *groups, "total"], rows)


def idle_table(idle: dict[str, Any]) -> str:
    """% of one core by group while no request arrives."""
    seconds, cpu = idle["seconds"], idle["cpu_s"]
    rows = [[g, f"{100 * cpu[g] / seconds:.1f}"] for g in GROUPS if abs(cpu[g]) >= 0.005]
    rows.append(["total", f"{100 * sum(cpu.values()) / seconds:.1f}"])
    return table([f"idle {seconds:.0f} s", "% of one core"], rows)


def _us_per_member(p: Phase, group: str | None = None) -> float | None:
    cpu = p.cpu_total_s if group is None else p.cpu_s.get(group, 0.0)
    return 1e6 * cpu / (p.ok * p.units_per_op) if p.ok else None


def growth_table(growth: dict[str, Any]) -> str:
    """Members/s, latency and CPU-µs per member for each group size measured."""
    windows = growth["windows"]
    groups = _groups([w["phase"].cpu_s for w in windows])
    rows = []
    for size in sorted({w["size"] for w in windows}):
        at = [w for w in windows if w["size"] == size]
        phases = [w["phase"] for w in at]
        rows.append([f"{at[0]['before']:,} → {at[-1]['after']:,}",
                     _by(phases, lambda p: p.units_per_s, "{:,.0f}"),
                     _by(phases, lambda p: p.latency_ms(50), "{:,.0f}"),
                     _by(phases, lambda p: p.latency_ms(99), "{:,.0f}"),
                     _by(phases, _us_per_member, "{:,.0f}"),
                     *(_by(phases, partial(_us_per_member, group=g), "{:,.0f}")
                       for g in groups),
                     str(sum(sum(p.errors.values()) for p in phases))])
    return table(["group size", "members/s", "p50 ms", "p99 ms", "CPU-µs/member",
                  *(f"{g} µs" for g in groups), "errors"], rows)
