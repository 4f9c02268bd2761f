"""Failover: how long each part of the pipeline stands still after a fault, under load.

Starts embedded PostgreSQL + broker and every service as a process, with a warm spare per
service as `make run` keeps (bench/common.py; `--no-spares` for cold restarts), three
tenants with a webhook each (a local receiver that answers 200) and a group mapped to a
role, and a steady load: per tenant a writer creating users back to back (~20/s). Probes
start every `PROBE_EVERY_S` on their own: a session probe (create a user, issue a session,
deactivate the user, wait until the sessions service revoked the session) and a roles
probe (create a user, add it to the mapped group, wait until the roles service gave it the
role). Then, `--runs` times, each fault in turn:

  SIGKILL of gateway, directory, roles, sessions, fanout (the supervisor restarts it);
  a broker restart (the embedded broker loses every topic and offset);
  PostgreSQL frozen for 3 s (SIGSTOP/SIGCONT of the postmaster and every backend).

For each fault it prints, from the fault on, the time until
  writes     a write sent after the fault is acknowledged (201);
  webhooks   every receiver got an event of a write made after the fault;
  sessions   a session probe started after the fault saw its session revoked;
  roles      a roles probe started after the fault saw its role,
as p50 and max over the runs (`>T` = not within `--limit` seconds). Numbers, not asserts.

Usage: python bench/failover.py [--runs 5] [--faults gateway,directory,...] [--limit 60]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web
from common import RunningStack, Servers, boot

from dsync_testkit.stack import SCIM_GROUP, SCIM_USER, Tenant

SECRET = "bench-secret"  # noqa: S105 - a test receiver's secret
PROBE_EVERY_S = 0.5
POLL_S = 0.1
SERVICES = ("gateway", "directory", "roles", "sessions", "fanout")
FAULTS = (*SERVICES, "broker", "pg-freeze")
MEASURES = ("writes", "webhooks", "sessions", "roles")
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Record:
    """Wall-clock (start, done) pairs of everything that completed, per measure."""
    done: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: {m: [] for m in MEASURES})
    arrivals: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Per receiver path: (event time, arrival time)."""

    def recovered(self, measure: str, fault_at: float) -> float | None:
        """Seconds from the fault until the first completion of work started after it."""
        if measure == "webhooks":
            firsts = [min((a for t, a in got if t >= fault_at), default=None)
                      for got in self.arrivals.values()]
            if not firsts or any(f is None for f in firsts):
                return None
            return max(f for f in firsts if f is not None) - fault_at
        after = [d for s, d in self.done[measure] if s >= fault_at]
        return min(after) - fault_at if after else None


class Receiver:
    def __init__(self, record: Record) -> None:
        self.record = record
        self.url = ""
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{name}", self.handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
        self.url = f"http://127.0.0.1:{port}"

    async def handle(self, request: web.Request) -> web.Response:
        event = await request.json()
        at = datetime.fromisoformat(event["time"]).timestamp()
        self.record.arrivals.setdefault(request.match_info["name"], []).append(
            (at, time.time()))
        return web.Response(text="ok")


@dataclass
class Bench:
    stack: RunningStack
    servers: Servers
    pool: asyncpg.Pool
    record: Record
    tenants: list[Tenant]
    group_id: str = ""
    running: bool = True
    probes: set[asyncio.Task[None]] = field(default_factory=set)
    waiting_sessions: dict[str, float] = field(default_factory=dict)
    waiting_roles: dict[str, float] = field(default_factory=dict)
    seq: int = 0

    def name(self, what: str) -> str:
        self.seq += 1
        return f"{what}-{os.getpid()}-{self.seq}@example.com"

    async def scim(self, tenant: Tenant, method: str, path: str,
                   body: dict[str, Any]) -> tuple[int, Any]:
        try:
            status, answer, _ = await self.stack.scim(tenant, method, path, body)
        except Exception:  # noqa: BLE001 - a fault may break the connection
            await asyncio.sleep(0.1)
            return 0, None
        return status, answer

    async def create(self, tenant: Tenant, what: str) -> str | None:
        status, body = await self.scim(tenant, "POST", "/Users",
                                       {"schemas": [SCIM_USER], "userName": self.name(what)})
        return str(body["id"]) if status == 201 else None

    async def writer(self, tenant: Tenant) -> None:
        while self.running:
            started = time.time()
            if await self.create(tenant, "load") is not None:
                self.record.done["writes"].append((started, time.time()))
            else:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.05)

    async def checker(self) -> None:
        """One query per measure every POLL_S for every probe still waiting."""
        checks = (("sessions", self.waiting_sessions,
                   "SELECT id::text AS id FROM sessions WHERE id = ANY($1::uuid[])"
                   " AND revoked_at IS NOT NULL"),
                  ("roles", self.waiting_roles,
                   "SELECT user_id::text AS id FROM user_access"
                   " WHERE user_id = ANY($1::uuid[]) AND 'probe' = ANY(roles)"))
        while self.running:
            for measure, waiting, query in checks:
                if not waiting:
                    continue
                try:
                    rows = await self.pool.fetch(query, list(waiting), timeout=2)
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    continue
                now = time.time()
                for r in rows:
                    started = waiting.pop(r["id"], None)
                    if started is not None:
                        self.record.done[measure].append((started, now))
            await asyncio.sleep(POLL_S)

    async def session_probe(self, limit: float) -> None:
        """create user -> session -> deactivate -> the sessions service revokes it."""
        started, tenant = time.time(), self.tenants[0]
        user_id = await self._retry(lambda: self.create(tenant, "sess"), limit)
        if user_id is None:
            return
        async def issue() -> str | None:
            status, body = await self.stack.admin(
                "POST", f"/admin/v1/tenants/{tenant.id}/sessions", {"user_id": user_id})
            return str(body["session_id"]) if status == 201 else None
        session_id = await self._retry(issue, limit)
        if session_id is None:
            return
        async def deactivate() -> bool | None:
            status, _ = await self.scim(tenant, "PATCH", f"/Users/{user_id}", {
                "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active",
                                                    "value": False}]})
            return True if status == 200 else None
        if await self._retry(deactivate, limit) is None:
            return
        self.waiting_sessions[session_id] = started

    async def roles_probe(self, limit: float) -> None:
        """create user -> add to the mapped group -> the roles service gives it the role."""
        started, tenant = time.time(), self.tenants[0]
        user_id = await self._retry(lambda: self.create(tenant, "role"), limit)
        if user_id is None:
            return
        async def add() -> bool | None:
            status, _ = await self.scim(tenant, "PATCH", f"/Groups/{self.group_id}", {
                "schemas": [PATCH], "Operations": [{"op": "add", "path": "members",
                                                    "value": [{"value": user_id}]}]})
            return True if status in (200, 204) else None
        if await self._retry(add, limit) is None:
            return
        self.waiting_roles[user_id] = started

    async def _retry(self, attempt: Callable[[], Awaitable[Any]], limit: float) -> Any:
        deadline = time.monotonic() + limit
        while self.running and time.monotonic() < deadline:
            value = await attempt()
            if value is not None:
                return value
            await asyncio.sleep(0.1)
        return None

    async def prober(self, limit: float) -> None:
        while self.running:
            for probe in (self.session_probe(limit), self.roles_probe(limit)):
                task = asyncio.create_task(probe)
                self.probes.add(task)
                task.add_done_callback(self.probes.discard)
            await asyncio.sleep(PROBE_EVERY_S)

    async def inject(self, fault: str) -> None:
        if fault in SERVICES:
            self.stack.supervisor.kill(fault, signal.SIGKILL)
        elif fault == "broker":
            assert self.servers.broker is not None
            await asyncio.to_thread(self.servers.broker.restart)
        else:
            assert self.servers.pg is not None and self.servers.pg.process is not None
            frozen = freeze(self.servers.pg.process.pid)
            try:
                await asyncio.sleep(3.0)
            finally:
                for pid in frozen:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGCONT)


def freeze(postmaster: int) -> list[int]:
    """SIGSTOP the postmaster (no new backends), then every child of it (each backend is
    its own process group, so killpg would not reach them). Returns the pids stopped."""
    os.kill(postmaster, signal.SIGSTOP)
    frozen = [postmaster]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == postmaster:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(entry), signal.SIGSTOP)
                frozen.append(int(entry))
    return frozen


async def setup(stack: RunningStack, record: Record, receiver: Receiver,
                servers: Servers, pool: asyncpg.Pool) -> Bench:
    tenants = [await stack.new_tenant(f"fo{i}") for i in range(3)]
    for i, t in enumerate(tenants):
        status, body = await stack.admin("POST", f"/admin/v1/tenants/{t.id}/webhooks",
                                         {"url": f"{receiver.url}/r{i}", "secret": SECRET})
        assert status == 201, body
    bench = Bench(stack, servers, pool, record, tenants)
    status, group, _ = await stack.scim(tenants[0], "POST", "/Groups",
                                        {"schemas": [SCIM_GROUP], "displayName": "probe"})
    assert status == 201, group
    bench.group_id = group["id"]
    status, body = await stack.admin(
        "PUT", f"/admin/v1/tenants/{tenants[0].id}/group-roles/{group['id']}",
        {"roles": ["probe"]})
    assert status == 200, body
    return bench


async def steady(bench: Bench, limit: float) -> None:
    """Wait until every measure completed work started within the last few seconds."""
    mark = time.time()
    deadline = time.monotonic() + limit * 2
    while time.monotonic() < deadline:
        if all(bench.record.recovered(m, mark) is not None for m in MEASURES):
            return
        await asyncio.sleep(0.2)
    stuck = [m for m in MEASURES if bench.record.recovered(m, mark) is None]
    raise RuntimeError(f"the stack did not become steady: {stuck} stand still")


def fmt(values: list[float | None], limit: float) -> str:
    if not values:
        return "-"
    done = sorted(v if v is not None else float("inf") for v in values)
    p50, worst = statistics.median(done), done[-1]
    def show(v: float) -> str:
        return f">{limit:.0f}" if v == float("inf") else f"{v:.1f}"
    return f"{show(p50)} / {show(worst)}"


async def main(args: argparse.Namespace) -> None:
    faults = [f for f in args.faults.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        raise SystemExit(f"unknown faults {sorted(unknown)}; choose from {FAULTS}")
    servers, stack = await boot(spares=not args.no_spares, DSYNC_WRITE_TIMEOUT_S="3")
    record = Record()
    receiver = Receiver(record)
    await receiver.start()
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=8)
    assert pool is not None
    results: dict[str, dict[str, list[float | None]]] = {
        f: {m: [] for m in MEASURES} for f in faults}
    bench = await setup(stack, record, receiver, servers, pool)
    tasks = [asyncio.create_task(bench.writer(t)) for t in bench.tenants]
    tasks.append(asyncio.create_task(bench.prober(args.limit)))
    tasks.append(asyncio.create_task(bench.checker()))
    try:
        await steady(bench, args.limit)
        for run in range(args.runs):
            for fault in faults:
                await steady(bench, args.limit)
                await asyncio.sleep(1.0)
                fault_at = time.time()
                await bench.inject(fault)
                deadline = time.monotonic() + args.limit
                while time.monotonic() < deadline and any(  # noqa: ASYNC110
                        record.recovered(m, fault_at) is None for m in MEASURES):
                    await asyncio.sleep(0.2)
                got = {m: record.recovered(m, fault_at) for m in MEASURES}
                for m, v in got.items():
                    results[fault][m].append(v)
                stamp = datetime.fromtimestamp(fault_at, UTC).time().isoformat("milliseconds")
                print(f"run {run + 1} {fault:10s} at {stamp} " + "  ".join(
                    f"{m} {'-' if v is None else f'{v:.1f}'}" for m, v in got.items()),
                      flush=True)
    except RuntimeError as exc:
        print(f"stopped early: {exc}", flush=True)
    finally:
        bench.running = False
        await asyncio.gather(*tasks, *bench.probes, return_exceptions=True)
        await pool.close()
        await receiver.runner.cleanup() if receiver.runner else None
        await stack.close()
        servers.stop()
    print(f"\nseconds from the fault until each works again, p50 / max over {args.runs} runs")
    print(f"| fault | {' | '.join(MEASURES)} |")
    print("|---|" + "---|" * len(MEASURES))
    for fault in faults:
        print(f"| {fault} | " + " | ".join(fmt(results[fault][m], args.limit)
                                            for m in MEASURES) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--no-spares", action="store_true",
                        help="cold restarts (no warm spare processes, unlike `make run`)")
    asyncio.run(main(parser.parse_args()))
