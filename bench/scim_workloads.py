"""The IdP's workloads, as Okta's OIN SCIM 2.0 client drives them.

  create       POST /Users with an Okta-shaped user
  get_filter   GET /Users?filter=userName eq "…" for a seeded user (the answer is checked)
  patch        PATCH /Users/{id} {"op": "replace", "value": {"active": false}}, each op on a
               distinct seeded user
  put          GET /Users/{id}, then PUT it back with a new givenName (Okta's profile push);
               one op is both requests
  mixed        60% get_filter, 20% put, 10% create, 10% patch; patch and put work on
               disjoint halves of the seeded users, so a PUT cannot undo a deactivation
  group_add    POST /Groups (not measured), then PATCH add members `batch` at a time; each
               group takes distinct seeded users until they run out, then a new group
Operation i goes to tenant i mod T (round-robin). Seeding (POST /Users) is not measured.
"""
from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from scim_client import USER_SCHEMA, Bodies, ScimClient, Tenant, User, outcome_of

KINDS = ("create", "get_filter", "patch", "put", "mixed", "group_add")


async def seed_users(client: ScimClient, bodies: Bodies, tenants: list[Tenant], per_tenant: int,
                     concurrency: int = 16) -> tuple[list[list[User]], Counter[str]]:
    """Create per_tenant users in each tenant; the new users per tenant, and failures.
    Gives up early once 20 creations failed and fewer than that succeeded."""
    created: list[list[User]] = [[] for _ in tenants]
    failures: Counter[str] = Counter()
    jobs = iter([(k, t) for _ in range(per_tenant) for k, t in enumerate(tenants)])

    async def worker() -> None:
        for k, tenant in jobs:
            if failures.total() >= 20 and failures.total() > sum(map(len, created)):
                return
            try:
                outcome, user = await client.create_user(tenant, bodies.user())
            except Exception as exc:  # noqa: BLE001 - counted
                outcome, user = type(exc).__name__, None
            if user is None:
                failures[outcome] += 1
            else:
                created[k].append(user)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return created, failures


class WorkloadRun:
    """One run of one workload over a set of tenants: its seeded users, its operation
    (`op(i)`), and what it changed, for the check afterwards (scim_verify)."""

    def __init__(self, kind: str, client: ScimClient, bodies: Bodies, tenants: list[Tenant],
                 rng: random.Random, batch: int = 100) -> None:
        assert kind in KINDS, kind
        self.kind, self.client, self.bodies, self.rng = kind, client, bodies, rng
        self.tenants, self.batch = tenants, batch
        self.seeded: list[list[User]] = [[] for _ in tenants]
        self.mix: Counter[str] = Counter()
        self.created: list[tuple[int, User]] = []
        self.patched: list[tuple[int, User]] = []
        self.last_put: dict[tuple[int, str], str] = {}  # (tenant, user id) -> givenName
        # overlapping PUTs, or a PUT that failed (it may still apply): last writer unknown
        self.put_raced: set[tuple[int, str]] = set()
        self._put_in_flight: Counter[tuple[int, str]] = Counter()
        self.group_plan: list[tuple[int, str, list[User]]] = []
        self.group_members: dict[tuple[int, str], set[str]] = defaultdict(set)

    async def seed(self, per_tenant: int) -> dict[str, Any]:
        self.seeded, failures = await seed_users(self.client, self.bodies, self.tenants,
                                                 per_tenant)
        if any(not pool for pool in self.seeded):
            raise RuntimeError(f"seeding created no users in some tenant: {dict(failures)}")
        return {"per_tenant": per_tenant, "failures": dict(failures)}

    def forget_changes(self) -> None:
        """Drop what warm-up operations recorded."""
        self.created.clear()
        self.patched.clear()
        self.last_put.clear()
        self.put_raced.clear()
        self.mix.clear()

    async def plan_groups(self, n: int) -> int:
        """Create the groups and plan n member PATCHes; the number planned."""
        plans: list[list[tuple[int, str, list[User]]]] = []
        for k, tenant in enumerate(self.tenants):
            ops = len(range(k, n, len(self.tenants)))
            pool = self.seeded[k]
            per_group = max(1, len(pool) // self.batch)
            gids = []
            for _ in range(-(-ops // per_group)):
                gids.append(await self.client.create_group(tenant, self.bodies.group("bench")))
            plans.append([(k, gids[j // per_group], pool[(j % per_group) * self.batch:
                                                          (j % per_group + 1) * self.batch])
                          for j in range(ops)])
        self.group_plan = [p[j] for j in range(max(map(len, plans), default=0))
                           for p in plans if j < len(p)]
        return len(self.group_plan)

    # ---------------------------------------------------------------- operations
    async def op(self, i: int) -> str:
        k = i % len(self.tenants)
        kind = self.kind
        if kind == "mixed":
            r = self.rng.random()
            kind = ("get_filter" if r < 0.6 else "put" if r < 0.8
                    else "create" if r < 0.9 else "patch")
            self.mix[kind] += 1
        if kind == "group_add":
            return await self._group_add(i)
        step: Callable[[int, int], Awaitable[str]] = getattr(self, f"_{kind}")
        return await step(i, k)

    def _pool(self, k: int, part: str) -> list[User]:
        pool = self.seeded[k]
        if self.kind != "mixed" or len(pool) < 2:
            return pool
        half = len(pool) // 2
        return pool[:half] if part == "patch" else pool[half:]

    async def _create(self, i: int, k: int) -> str:
        outcome, user = await self.client.create_user(self.tenants[k], self.bodies.user())
        if user is not None:
            self.created.append((k, user))
        return outcome

    async def _get_filter(self, i: int, k: int) -> str:
        user = self.rng.choice(self.seeded[k])
        f = quote(f'userName eq "{user.user_name}"', safe="")
        status, data = await self.client.call(self.tenants[k], "GET",
                                              f"/Users?filter={f}&startIndex=1&count=100")
        if not 200 <= status < 300:
            return outcome_of(status)
        found = data.get("Resources") if isinstance(data, dict) else None
        if not found:
            return "wrong:filter_found_nothing"
        if len(found) != 1 or found[0].get("id") != user.id:
            return "wrong:filter_found_other_users"
        return "ok"

    async def _patch(self, i: int, k: int) -> str:
        pool = self._pool(k, "patch")
        user = pool[(i // len(self.tenants)) % len(pool)]
        status, _ = await self.client.call(self.tenants[k], "PATCH", f"/Users/{user.id}",
                                           self.bodies.deactivate(), parse=False)
        if 200 <= status < 300:
            self.patched.append((k, user))
        return outcome_of(status)

    async def _put(self, i: int, k: int) -> str:
        user = self.rng.choice(self._pool(k, "put"))
        key = (k, user.id)
        self._put_in_flight[key] += 1
        if self._put_in_flight[key] > 1:
            self.put_raced.add(key)
        outcome = "unknown"
        try:
            outcome = await self._get_then_put(k, user)
        finally:
            self._put_in_flight[key] -= 1
            if outcome != "ok":
                self.put_raced.add(key)
        return outcome

    async def _get_then_put(self, k: int, user: User) -> str:
        tenant = self.tenants[k]
        status, data = await self.client.call(tenant, "GET", f"/Users/{user.id}")
        if not 200 <= status < 300:
            return outcome_of(status)
        if not isinstance(data, dict):
            return "wrong:get_not_json"
        body = {key: v for key, v in data.items() if key != "meta"}
        body["schemas"] = body.get("schemas") or [USER_SCHEMA]
        given = f"Upd{self.rng.randrange(10**6)}"
        body["name"] = {**(body.get("name") or {}), "givenName": given}
        body["displayName"] = f"{given} {body['name'].get('familyName') or ''}".strip()
        status, _ = await self.client.call(tenant, "PUT", f"/Users/{user.id}", body, parse=False)
        if 200 <= status < 300:
            self.last_put[(k, user.id)] = given
        return outcome_of(status)

    async def _group_add(self, i: int) -> str:
        k, gid, members = self.group_plan[i]
        status, _ = await self.client.call(self.tenants[k], "PATCH", f"/Groups/{gid}",
                                           self.bodies.add_members(members), parse=False)
        if 200 <= status < 300:
            self.group_members[(k, gid)].update(u.id for u in members)
        return outcome_of(status)
