"""Cost of a member add as a group grows: PATCH add (`batch` members each) into one group
that already holds 1,000, 10,000 (with --full also 100,000) members.

One group is filled up to each size (shown as progress, not measured for the table), then
`window` new members are added and measured: members/s, PATCH latency, and the stack's
CPU-µs per member added (total and by process group). Flat figures across sizes mean
the cost of an add does not grow with the group. The members are users of one tenant:
those the earlier workloads created there, topped up with POST /Users (not measured).
Afterwards the group is read back (GET /Groups/{id}) and must list every member added.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from measurement import Phase, closed_loop
from scim_client import Bodies, ScimClient, Tenant, User, outcome_of
from scim_workloads import seed_users

FILL_CHUNK = 10_000  # members per progress line while filling


class GrowingGroup:
    """One group and the users queued to join it, `batch` per PATCH."""

    def __init__(self, client: ScimClient, bodies: Bodies, tenant: Tenant, batch: int) -> None:
        self.client, self.bodies, self.tenant, self.batch = client, bodies, tenant, batch
        self.gid = ""
        self.pool: list[User] = []
        self.added: set[str] = set()
        self.used = 0  # users taken from the pool so far

    async def add(self, members: int, concurrency: int, root_pid: int) -> Phase:
        """Add `members` new members (one PATCH per batch) and measure it."""
        start, n_ops = self.used, -(-members // self.batch)
        self.used += members

        async def op(i: int) -> str:
            chunk = self.pool[start + i * self.batch: min(start + (i + 1) * self.batch,
                                                          start + members)]
            status, _ = await self.client.call(self.tenant, "PATCH", f"/Groups/{self.gid}",
                                               self.bodies.add_members(chunk), parse=False)
            if 200 <= status < 300:
                self.added.update(u.id for u in chunk)
            return outcome_of(status)

        return await closed_loop(op, n_ops, concurrency, root_pid, max_s=3600,
                                 units_per_op=self.batch)

    async def missing_members(self) -> int | str:
        status, doc = await self.client.call(self.tenant, "GET", f"/Groups/{self.gid}")
        if status != 200:
            return f"http_{status}"
        return len(self.added - {m.get("value") for m in (doc or {}).get("members") or []})


async def group_growth(client: ScimClient, bodies: Bodies, tenant: Tenant, sizes: list[int],
                       window: int, repeat: int, batch: int, concurrency: int, root_pid: int,
                       say: Callable[[str], None]) -> dict[str, Any]:
    """Fill one group to each size in turn and measure `repeat` windows of adds there."""
    needed = max(sizes) + window * repeat * len(sizes)
    if len(tenant.users) < needed:
        say(f"group growth: creating {needed - len(tenant.users):,} more users (POST /Users,"
            " not measured) ...")
        _, failures = await seed_users(client, bodies, [tenant], needed - len(tenant.users))
        if failures:
            say(f"  user creation failures: {dict(failures)}")
    group = GrowingGroup(client, bodies, tenant, batch)
    group.pool = tenant.users[-needed:]
    group.gid = gid = await client.create_group(tenant, bodies.group("growth"))
    windows: list[dict[str, Any]] = []
    for size in sorted(sizes):
        while group.used < size:
            members = min(FILL_CHUNK, size - group.used)
            fill = await group.add(members, concurrency, root_pid)
            say(f"  filled to {group.used:,} members: {fill.units_per_s:,.0f} members/s,"
                f" errors {dict(fill.errors) or 0}")
        for r in range(repeat):
            before = group.used
            phase = await group.add(window, concurrency, root_pid)
            windows.append({"size": size, "before": before, "after": group.used,
                            "repeat": r, "phase": phase})
            say(f"  adds at {before:,} members: {phase.units_per_s:,.0f} members/s, "
                f"{1e6 * phase.cpu_total_s / max(1, phase.ok * batch):,.0f} CPU-µs/member, "
                f"p99 {phase.latency_ms(99) or 0:.0f} ms, errors {dict(phase.errors) or 0}")
    missing = await group.missing_members()
    say(f"  read back the group: {len(group.added):,} members added, missing {missing}")
    return {"group_id": gid, "batch": batch, "concurrency": concurrency, "window": window,
            "members_added": len(group.added), "missing_on_read_back": missing,
            "windows": windows}
