"""Start the whole stack in the foreground; stop everything on Ctrl-C / SIGTERM.

Embedded PostgreSQL (data under `.dsync/pg`) and the embedded broker are started unless
`DSYNC_DATABASE_URL` / `DSYNC_KAFKA_BOOTSTRAP` name real servers. Each service runs as its
own process with its PID in `.dsync/run/<service>.pid`, restarted if it dies.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

from dsync.db.migrate import migrate_dsn
from dsync.devservers.supervisor import SERVICES, Supervisor
from dsync.kafka.topics import ensure_topics
from dsync.settings import KafkaSettings
from dsync.tokens import admin_token_problem, new_token

STATE_DIR = Path(os.environ.get("DSYNC_STATE_DIR", ".dsync"))


def say(msg: str) -> None:
    print(f"[dsync] {msg}", flush=True)


def _start_embedded(env: dict[str, str]) -> list[object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from dsync.devservers import EmbeddedBroker, EmbeddedPostgres
    started: list[object] = []
    if not env.get("DSYNC_DATABASE_URL"):
        say(f"starting embedded PostgreSQL (data in {STATE_DIR / 'pg'}) ...")
        pg = EmbeddedPostgres(STATE_DIR / "pg", port=int(env.get("DSYNC_EMBEDDED_PG_PORT", 0))
                              or None, log_path=STATE_DIR / "logs" / "postgres.log")
        env["DSYNC_DATABASE_URL"] = pg.start()
        started.append(pg)
        say(f"PostgreSQL ready at {env['DSYNC_DATABASE_URL']}")
    if not env.get("DSYNC_KAFKA_BOOTSTRAP"):
        say("starting embedded Kafka-protocol broker (tansu, memory storage) ...")
        broker = EmbeddedBroker(port=int(env.get("DSYNC_EMBEDDED_KAFKA_PORT", 0)) or None,
                                log_path=STATE_DIR / "logs" / "broker.log")
        env["DSYNC_KAFKA_BOOTSTRAP"] = broker.start()
        env["DSYNC_KAFKA_EMBEDDED_BROKER"] = "true"  # a lost topic is republished
        started.append(broker)
        say(f"broker ready at {env['DSYNC_KAFKA_BOOTSTRAP']}")
    return started


def _wait_healthy(url: str, timeout: float, supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - our own URL
                if r.status == 200:
                    return True
        except urllib.error.HTTPError as exc:
            detail = json.loads(exc.read() or b"{}").get("checks", {})
            waiting = ", ".join(k for k, v in detail.items() if v != "ok")
            if waiting and waiting != last:
                say(f"waiting for: {waiting}")
                last = waiting
        except OSError:
            pass
        time.sleep(0.5)
    return False


def main() -> int:
    env = dict(os.environ)
    (STATE_DIR / "logs").mkdir(parents=True, exist_ok=True)
    env.setdefault("DSYNC_HTTP_HOST", "127.0.0.1")
    env.setdefault("DSYNC_HTTP_PORT", "8080")
    if not env.get("DSYNC_ADMIN_TOKEN"):
        env["DSYNC_ADMIN_TOKEN"] = new_token("dsync_admin_")
    problem = admin_token_problem(env["DSYNC_ADMIN_TOKEN"])
    if problem:
        say(problem)
        return 2
    env.setdefault("DSYNC_WEBHOOK_ALLOW_LOOPBACK", "true")
    started = _start_embedded(env)
    os.environ.update({k: env[k] for k in ("DSYNC_DATABASE_URL", "DSYNC_KAFKA_BOOTSTRAP")})
    if "DSYNC_KAFKA_EMBEDDED_BROKER" in env:
        os.environ["DSYNC_KAFKA_EMBEDDED_BROKER"] = env["DSYNC_KAFKA_EMBEDDED_BROKER"]
    say("applying migrations and creating topics ...")
    asyncio.run(migrate_dsn(env["DSYNC_DATABASE_URL"]))
    asyncio.run(ensure_topics(KafkaSettings()))
    base_port = int(env["DSYNC_HTTP_PORT"])
    per_service = {name: {"DSYNC_METRICS_PORT": str(base_port + i)}
                   for i, name in enumerate(SERVICES) if name != "gateway"}
    supervisor = Supervisor(env=env, run_dir=STATE_DIR / "run", log_dir=STATE_DIR / "logs",
                            per_service_env=per_service, spares=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    say(f"starting services: {', '.join(SERVICES)} (logs in {STATE_DIR / 'logs'})")
    supervisor.start()
    host, port = env["DSYNC_HTTP_HOST"], env["DSYNC_HTTP_PORT"]
    healthy = _wait_healthy(f"http://{host}:{port}/healthz", 120, supervisor)
    if healthy:
        say("healthy")
        print(f"\n  Console       : http://{host}:{port}/console/ (sign in with the admin token)\n"
              f"  SCIM base URL : http://{host}:{port}/scim/v2\n"
              f"  Admin API     : http://{host}:{port}/admin/v1\n"
              f"  Admin token   : {env['DSYNC_ADMIN_TOKEN']}\n"
              f"  Metrics       : http://{host}:{port}/metrics (gateway), ports "
              f"{base_port + 1}-{base_port + 4} (directory, roles, sessions, fanout)\n"
              f"\n  Ctrl-C stops everything.\n", flush=True)
    else:
        say("not healthy after 120 s; see the logs in .dsync/logs (still running)")
    stop.wait()
    say("stopping services ...")
    supervisor.stop()
    for server in reversed(started):
        server.stop()  # type: ignore[attr-defined]
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
