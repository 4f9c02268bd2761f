"""Where the floor is: the CPU per SCIM create of bare skeletons of each architecture.

`make bench` measures dsync. This script measures what the same machine costs for the
least work each shape must do, with no SCIM logic at all, so a figure of dsync's can be
read against the floor of its shape (docs/performance.md):

  peer      HTTP server that commits one INSERT per request and answers: the shape of
            the peers (a SCIM server writing its database in the request).
  hop       dsync's answer path: HTTP server -> produce the command to Kafka (key = tenant)
            -> a consumer process applies each fetched batch in ONE statement (user rows +
            ledger rows + NOTIFY of the outcomes) -> the server, woken by LISTEN, answers.
  hop+events  `hop`, plus the outbox: the batch also writes one event row per user; a relay
            in the consumer process moves them to the events topic; three event
            consumers (as roles, sessions, fanout) fetch them and, a create being
            irrelevant to them, only commit offsets.

Each runs against the same embedded PostgreSQL (durable, as `make run`) and Tansu broker,
in separate processes as in the stack; a closed loop of `--concurrency` clients POSTs
JSON users for `--seconds`. Printed per shape: ops/s, p50/p99, and CPU-ms per op by
process (utime+stime from /proc, the client excluded). Kafka settings are dsync's
(fetch wait 2 ms for the command consumer, offsets committed every 200 ms, acks=all);
FLOOR_FETCH_WAIT_MS and FLOOR_LINGER_MS (the HTTP side's producer) try others.
`--rate 300` replaces the closed loop with 300 creates arriving per second (latency from
each scheduled arrival, as `make bench`'s open loop). `--events-per-op 100` makes
`hop+events` write 100 events per request: the floor of a group PATCH adding 100 members
(one `group.member_added` each); read its figures per event.

Usage: python bench/floor.py [--seconds 15] [--concurrency 8] [--shapes peer,hop,hop+events]
                            [--rate 300] [--events-per-op 100]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from process_cpu import TICK_S

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "libs"))

from dsync.devservers.broker import EmbeddedBroker  # noqa: E402
from dsync.devservers.ports import free_port  # noqa: E402
from dsync.devservers.postgres import EmbeddedPostgres  # noqa: E402

PARTITIONS = int(os.environ.get("FLOOR_PARTITIONS", "16"))
EVENTS_PER_OP = 1  # --events-per-op (the role processes get it on their command line)
ROLES = ("server", "consumer", "events-1", "events-2", "events-3")
COMMIT_EVERY_S = 0.2
SCHEMA = """
CREATE TABLE IF NOT EXISTS floor_users (tenant_id uuid NOT NULL, id uuid PRIMARY KEY,
    user_name text NOT NULL, doc jsonb NOT NULL, version int NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (tenant_id, user_name));
CREATE TABLE IF NOT EXISTS floor_ops (id uuid PRIMARY KEY, tenant_id uuid NOT NULL,
    status text NOT NULL, response jsonb, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS floor_outbox (seq bigserial PRIMARY KEY, tenant_id uuid NOT NULL,
    event jsonb NOT NULL);
"""
BATCH = """
WITH u AS (INSERT INTO floor_users (tenant_id, id, user_name, doc)
           SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[])
           ON CONFLICT DO NOTHING RETURNING id),
     o AS (INSERT INTO floor_ops (id, tenant_id, status, response)
           SELECT * FROM unnest($5::uuid[], $1::uuid[], $6::text[], $4::jsonb[])
           ON CONFLICT DO NOTHING RETURNING id),
     e AS (INSERT INTO floor_outbox (tenant_id, event)
           SELECT * FROM unnest($7::uuid[], $8::jsonb[]) RETURNING seq)
SELECT (SELECT count(pg_notify('floor_outcomes', p)) FROM unnest($9::text[]) AS p),
       (SELECT count(*) FROM u), (SELECT count(*) FROM o),
       (SELECT count(*) FROM e)
"""


# ---- the processes ------------------------------------------------------------------

async def serve(shape: str, port: int, dsn: str, bootstrap: str, run: str) -> None:
    """The HTTP side: `peer` writes itself; the others produce and wait for the NOTIFY."""
    pool = await asyncpg.create_pool(dsn, min_size=4, max_size=10)
    waiting: dict[str, asyncio.Future[str]] = {}
    producer: AIOKafkaProducer | None = None
    if shape != "peer":
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                    linger_ms=int(os.environ.get("FLOOR_LINGER_MS", "0")))
        await producer.start()
        listener = await asyncpg.connect(dsn)

        def on_outcomes(_c: object, _p: int, _ch: str, payload: object) -> None:
            for op_id, response in json.loads(str(payload)):
                fut = waiting.get(op_id)
                if fut is not None and not fut.done():
                    fut.set_result(response)

        await listener.add_listener("floor_outcomes", on_outcomes)

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        tenant, uid = request.headers["X-Tenant"], str(uuid.uuid4())
        if producer is None:
            doc = json.dumps({**body, "id": uid})
            await pool.execute(
                "INSERT INTO floor_users (tenant_id, id, user_name, doc) VALUES ($1, $2, $3,"
                " $4)", uuid.UUID(tenant), uuid.UUID(uid), body["userName"], doc)
            return web.Response(status=201, text=doc, content_type="application/scim+json")
        op_id = str(uuid.uuid4())
        fut = waiting[op_id] = asyncio.get_running_loop().create_future()
        try:
            command = json.dumps({"op": op_id, "tenant": tenant, "id": uid, "body": body})
            await producer.send_and_wait(f"floor.{run}.commands", command.encode(),
                                         key=tenant.encode())
            response = await asyncio.wait_for(fut, 10)
        finally:
            waiting.pop(op_id, None)
        return web.Response(status=201, text=response, content_type="application/scim+json")

    app = web.Application()
    app.router.add_post("/Users", create)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


async def consume_commands(shape: str, dsn: str, bootstrap: str, run: str) -> None:
    """Each fetched partition batch: one statement (users, ledger, outbox, NOTIFY)."""
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    consumer = AIOKafkaConsumer(f"floor.{run}.commands", bootstrap_servers=bootstrap,
                                group_id=f"floor-{run}-directory",
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=int(os.environ.get("FLOOR_FETCH_WAIT_MS", "2")),
                                max_poll_records=500)
    await consumer.start()
    relay_wake = asyncio.Event()
    if shape == "hop+events":
        asyncio.create_task(relay(pool, bootstrap, relay_wake, f"floor.{run}.events"))
    due: dict[Any, int] = {}
    committed_at = 0.0
    while True:
        batches = await consumer.getmany(timeout_ms=100, max_records=500)
        for tp, records in batches.items():
            cmds = [json.loads(r.value) for r in records]
            tenants = [uuid.UUID(c["tenant"]) for c in cmds]
            docs = [json.dumps({**c["body"], "id": c["id"]}) for c in cmds]
            events = ([json.dumps({"type": "user.created", "id": str(uuid.uuid4()),
                                   "data": d}) for d in docs for _ in range(EVENTS_PER_OP)]
                      if shape == "hop+events" else [])
            await pool.fetchrow(
                BATCH, tenants, [uuid.UUID(c["id"]) for c in cmds],
                [c["body"]["userName"] for c in cmds], docs, [uuid.UUID(c["op"]) for c in cmds],
                ["applied"] * len(cmds), [t for t in tenants for _ in range(EVENTS_PER_OP)
                                          ][:len(events)], events,
                _payloads([[c["op"], d] for c, d in zip(cmds, docs, strict=True)]))
            due[tp] = records[-1].offset + 1
        if batches and shape == "hop+events":
            relay_wake.set()
        if due and (not batches or time.monotonic() - committed_at >= COMMIT_EVERY_S):
            await consumer.commit(dict(due))
            due.clear()
            committed_at = time.monotonic()


def _payloads(outcomes: list[list[str]]) -> list[str]:
    """NOTIFY payloads under PostgreSQL's 8000-byte limit (a backlog makes big batches)."""
    chunks: list[list[list[str]]] = [[]]
    size = 0
    for item in outcomes:
        n = len(json.dumps(item)) + 1
        if chunks[-1] and size + n > 7000:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += n
    return [json.dumps(c) for c in chunks if c]


async def relay(pool: asyncpg.Pool, bootstrap: str, wake: asyncio.Event, topic: str
                ) -> None:
    """Outbox -> events topic, at most every 10 ms, rows deleted in the same transaction."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    while True:
        await wake.wait()
        wake.clear()
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "DELETE FROM floor_outbox WHERE seq IN (SELECT seq FROM floor_outbox ORDER BY"
                " seq LIMIT 1000) RETURNING tenant_id, event")
            sent = [await producer.send(topic, r["event"].encode(),
                                        key=str(r["tenant_id"]).encode()) for r in rows]
            await asyncio.gather(*sent)
        await asyncio.sleep(0.01)


async def consume_events(name: str, bootstrap: str, run: str) -> None:
    """An event consumer for which a create is irrelevant: decode, skip, commit offsets."""
    consumer = AIOKafkaConsumer(f"floor.{run}.events", bootstrap_servers=bootstrap,
                                group_id=f"floor-{run}-{name}",
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=50, max_poll_records=500)
    await consumer.start()
    due: dict[Any, int] = {}
    committed_at = 0.0
    while True:
        batches = await consumer.getmany(timeout_ms=100, max_records=500)
        for tp, records in batches.items():
            relevant = [e for r in records if (e := json.loads(r.value))["type"] != "user.created"]
            assert not relevant
            due[tp] = records[-1].offset + 1
        if due and (not batches or time.monotonic() - committed_at >= COMMIT_EVERY_S):
            await consumer.commit(dict(due))
            due.clear()
            committed_at = time.monotonic()
        await asyncio.sleep(0.05 if not batches else 0)  # linger between event batches


def role_main(args: argparse.Namespace) -> None:
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    if args.role == "server":
        asyncio.run(serve(args.shape, args.port, args.dsn, args.bootstrap, args.run))
    elif args.role == "consumer":
        asyncio.run(consume_commands(args.shape, args.dsn, args.bootstrap, args.run))
    else:
        asyncio.run(consume_events(args.role, args.bootstrap, args.run))


# ---- the measurement ----------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return 0.0
    fields = raw[raw.rfind(")") + 2:].split()
    return sum(int(f) for f in fields[11:15]) * TICK_S


def postgres_cpu(pg_pid: int) -> float:
    """The postmaster and its live backends (reaped ones count in its cutime)."""
    total = cpu_seconds(pg_pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    raw = fh.read()
            except OSError:
                continue
            if int(raw[raw.rfind(")") + 2:].split()[1]) == pg_pid:
                total += cpu_seconds(int(entry))
    return total


async def _create(session: aiohttp.ClientSession, port: int, tenant: str, name: str) -> None:
    async with session.post(
            f"http://127.0.0.1:{port}/Users", headers={"X-Tenant": tenant},
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                  "userName": name, "name": {"givenName": "A", "familyName": "B"},
                  "emails": [{"value": name, "primary": True}], "active": True}) as r:
        await r.read()
        if r.status != 201:
            raise RuntimeError(f"{r.status}: {await r.text()}")


async def load(port: int, tenants: list[str], concurrency: int, seconds: float,
               rate: float = 0.0) -> list[float]:
    """Creates for `seconds`: a closed loop of `concurrency` clients, or with `rate` an open
    loop of that many arrivals per second (latency from each scheduled arrival)."""
    latencies: list[float] = []
    end = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        async def client(n: int) -> None:
            i = 0
            while time.monotonic() < end:
                i += 1
                started = time.perf_counter()
                await _create(session, port, tenants[i % len(tenants)],
                              f"u{n}-{i}-{uuid.uuid4().hex[:8]}@example.com")
                latencies.append(time.perf_counter() - started)

        async def arrival(i: int, scheduled: float) -> None:
            try:
                await _create(session, port, tenants[i % len(tenants)],
                              f"o{i}-{uuid.uuid4().hex[:8]}@example.com")
            except RuntimeError as exc:  # the skeleton's 10 s outcome wait ran out (504)
                print(f"[floor] open loop: create {i} failed: {exc}", flush=True)
            latencies.append(time.perf_counter() - scheduled)  # a failure counts as slow

        if rate <= 0:
            await asyncio.gather(*(client(n) for n in range(concurrency)))
            return latencies
        t0, tasks = time.perf_counter(), []
        for i in range(int(seconds * rate)):
            scheduled = t0 + i / rate
            if scheduled > time.perf_counter():
                await asyncio.sleep(scheduled - time.perf_counter())
            tasks.append(asyncio.create_task(arrival(i, scheduled)))
        await asyncio.gather(*tasks)
    return latencies


def measure(shape: str, args: argparse.Namespace, dsn: str, bootstrap: str, pg_pid: int,
            broker_pid: int) -> dict[str, Any]:
    port, run = free_port(), uuid.uuid4().hex[:8]
    asyncio.run(_topics(bootstrap, run))
    roles = {"peer": ["server"], "hop": ["server", "consumer"],
             "hop+events": list(ROLES)}[shape]
    procs = {role: subprocess.Popen(  # noqa: S603 - this script, our interpreter
        [sys.executable, __file__, "--events-per-op", str(args.events_per_op), "--role", role,
         "--shape", shape, "--port", str(port), "--dsn", dsn, "--bootstrap", bootstrap,
         "--run", run], start_new_session=True)
        for role in roles}
    try:
        tenants = [str(uuid.uuid4()) for _ in range(args.tenants)]
        _wait_up(port)
        asyncio.run(load(port, tenants, args.concurrency, 4.0))  # warm-up
        before = {r: cpu_seconds(p.pid) for r, p in procs.items()}
        before |= {"postgres": postgres_cpu(pg_pid), "tansu": cpu_seconds(broker_pid)}
        started = time.monotonic()
        latencies = asyncio.run(load(port, tenants, args.concurrency, args.seconds,
                                     args.rate))
        elapsed = time.monotonic() - started
        after = {r: cpu_seconds(p.pid) for r, p in procs.items()}
        after |= {"postgres": postgres_cpu(pg_pid), "tansu": cpu_seconds(broker_pid)}
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGKILL)
            p.wait()
    n = len(latencies)
    qs = statistics.quantiles(latencies, n=100, method="inclusive")
    per_op = {k: (after[k] - before[k]) * 1000 / n for k in after}
    return {"shape": shape, "ops": n, "ops_s": n / elapsed,
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": qs[98] * 1000,
            "cpu_ms": per_op, "total_cpu_ms": sum(per_op.values())}


def _wait_up(port: int, timeout_s: float = 30.0) -> None:
    import socket
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the floor server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--tenants", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--shapes", default="peer,hop,hop+events")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="open loop: this many creates arriving per second (default:"
                             " the closed loop of --concurrency)")
    parser.add_argument("--events-per-op", type=int, default=1,
                        help="events each request writes in hop+events (100: a group PATCH)")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global EVENTS_PER_OP
    EVENTS_PER_OP = args.events_per_op
    if args.role:
        role_main(args)
        return
    state = Path(tempfile.mkdtemp(prefix="dsync-floor-"))
    pg, broker = EmbeddedPostgres(state / "pg"), EmbeddedBroker()
    try:
        dsn, bootstrap = pg.start(), broker.start()
        asyncio.run(_prepare(dsn))
        assert pg.process is not None and broker.process is not None
        results = []
        for _ in range(args.repeat):
            for shape in args.shapes.split(","):
                result = measure(shape, args, dsn, bootstrap, pg.process.pid,
                                 broker.process.pid)
                results.append(result)
                print(f"[floor] {shape:<11} {result['ops_s']:7.0f} ops/s  p50 "
                      f"{result['p50_ms']:5.1f} ms  p99 {result['p99_ms']:5.1f} ms  "
                      f"{result['total_cpu_ms']:.2f} CPU-ms/op", flush=True)
        _report(results)
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)


async def _prepare(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    await conn.execute(SCHEMA)
    await conn.close()


async def _topics(bootstrap: str, run: str) -> None:
    """Topics of their own per measurement: nothing left from the one before."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"floor.{run}.{t}", PARTITIONS, 1)
                                   for t in ("commands", "events")])
    finally:
        await admin.close()


def _report(results: list[dict[str, Any]]) -> None:
    columns = ["server", "consumer", "events-1", "events-2", "events-3", "postgres", "tansu"]
    print(f"\n{'shape':<11} {'ops/s':>6} {'p50 ms':>7} {'p99 ms':>7}  "
          + " ".join(f"{c:>8}" for c in columns) + f" {'total':>7}")
    for r in results:
        cells = " ".join(f"{r['cpu_ms'].get(c, 0.0):8.2f}" for c in columns)
        print(f"{r['shape']:<11} {r['ops_s']:6.0f} {r['p50_ms']:7.1f} {r['p99_ms']:7.1f}  "
              f"{cells} {r['total_cpu_ms']:7.2f}")
    print("(CPU-ms per create by process; the load generator is not counted)")
    if EVENTS_PER_OP > 1:
        for r in results:
            if r["shape"] == "hop+events":
                print(f"hop+events with {EVENTS_PER_OP} events per op: "
                      f"{r['ops_s'] * EVENTS_PER_OP:,.0f} events/s, "
                      f"{r['total_cpu_ms'] * 1000 / EVENTS_PER_OP:,.0f} CPU-µs per event "
                      f"(tansu {r['cpu_ms'].get('tansu', 0) * 1000 / EVENTS_PER_OP:,.0f})")


if __name__ == "__main__":
    main()
