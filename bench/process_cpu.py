"""CPU time of the stack's process tree, by process group, read from /proc.

A snapshot sums, for the stack process and every live descendant, utime+stime plus
cutime+cstime (the CPU of children that already exited and were reaped: PostgreSQL
backends and autovacuum workers, a service the supervisor restarted). The difference of
two snapshots is therefore the CPU the whole tree used in between, even when processes
come and go. Each process is charged to a group named after its command line.
"""
from __future__ import annotations

import os

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
SERVICES = ("gateway", "directory", "roles", "sessions", "fanout")
GROUPS = (*SERVICES, "postgres", "tansu", "stack", "other")


def group_of(cmdline: str) -> str:
    """The group a process belongs to: a dsync service, postgres, tansu, the stack's own
    supervisor process, or other."""
    for name in (*SERVICES, "stack"):
        if f"dsync_services.{name}" in cmdline:
            return name
    if "postgres" in cmdline:
        return "postgres"
    if "tansu" in cmdline:
        return "tansu"
    return "other"


def _processes() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds including reaped children, command line)."""
    found: dict[int, tuple[int, float, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                raw = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited while we looked
        fields = raw[raw.rfind(")") + 2:].split()
        ticks = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        found[int(entry)] = (int(fields[1]), ticks * TICK_S, cmd)
    return found


def tree_pids(root: int, procs: dict[int, tuple[int, float, str]] | None = None) -> set[int]:
    """root and all its live descendants."""
    procs = _processes() if procs is None else procs
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    keep, frontier = set(), [root] if root in procs else []
    while frontier:
        pid = frontier.pop()
        keep.add(pid)
        frontier.extend(c for c in children.get(pid, ()) if c not in keep)
    return keep


def snapshot(root: int) -> dict[str, float]:
    """CPU seconds used so far by the tree under root, by group."""
    procs = _processes()
    by_group = dict.fromkeys(GROUPS, 0.0)
    for pid in tree_pids(root, procs):
        _, cpu, cmd = procs[pid]
        by_group[group_of(cmd)] += cpu
    return by_group


def used_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds by group between two snapshots. Their sum is exact; a restarted service's
    earlier CPU moves from its group to `stack` (its parent), the only way a group's share
    can be off."""
    return {g: after.get(g, 0.0) - before.get(g, 0.0) for g in GROUPS}
