"""What every consumer service does at start and stop, in one place.

`ServiceRuntime` opens the pool (after migrating), creates the topics, starts a producer,
the process's one LISTEN connection (`NotifyListener`) and the /metrics, /livez, /readyz
and /healthz server, and tears all of it down in reverse order.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from dsync.db.migrate import migrate_dsn
from dsync.db.pool import create_pool
from dsync.health import Checks, Lifecycle
from dsync.kafka.clients import build_producer
from dsync.kafka.topics import ensure_topics
from dsync.logs import setup_logging
from dsync.pipeline.listener import NotifyListener
from dsync.process import start_ops_server, stop_event_on_signals
from dsync.settings import KafkaSettings, PostgresSettings, ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class ServiceRuntime:
    name: str
    pool: asyncpg.Pool
    producer: AIOKafkaProducer
    stop: asyncio.Event
    listener: NotifyListener
    postgres: PostgresSettings
    kafka: KafkaSettings
    service: ServiceSettings


async def _retry(what: str, attempt: Callable[[], object], stop: asyncio.Event) -> object:
    delay = 0.2
    while True:
        try:
            return await attempt()  # type: ignore[misc]
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if stop.is_set():
                raise
            log.warning("%s not reachable yet (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _drain_on(stop: asyncio.Event, lifecycle: Lifecycle) -> None:
    await stop.wait()
    lifecycle.draining = True


class _Steps:
    """Start-up timing for the log line: process age at import end, then each step."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._parts = [f"process up {_process_age_s():.1f} s"]

    def done(self, step: str) -> None:
        now = time.monotonic()
        self._parts.append(f"{step} {now - self._last:.2f} s")
        self._last = now

    def __str__(self) -> str:
        return ", ".join(self._parts)


def _process_age_s() -> float:
    """Seconds since this process started (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/stat") as fh:
            started = int(fh.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - started / os.sysconf("SC_CLK_TCK"))


@contextlib.asynccontextmanager
async def service_runtime(name: str, registry: CollectorRegistry,
                          ready: Callable[[], Checks],
                          details: Callable[[], dict[str, object]] | None = None,
                          ) -> AsyncIterator[ServiceRuntime]:
    """Start the service's shared parts. `ready()` answers /readyz (e.g. the consumer loop
    has started; a replica without partitions is still ready); `details()` is added to
    /healthz. Readiness turns off as soon as the stop signal arrives."""
    postgres, kafka, service = PostgresSettings(), KafkaSettings(), ServiceSettings()
    setup_logging(name, service.log_level)
    stop = stop_event_on_signals()
    steps = _Steps()
    await _retry("PostgreSQL", lambda: migrate_dsn(postgres.database_url), stop)
    steps.done("migrate")
    pool = await _retry("PostgreSQL", lambda: create_pool(postgres), stop)
    assert isinstance(pool, asyncpg.Pool)
    steps.done("pool")
    await ensure_topics(kafka)
    steps.done("topics")
    producer = build_producer(kafka, client_id=name)
    await producer.start()
    steps.done("producer")
    listener = NotifyListener(postgres.database_url)
    await _retry("PostgreSQL", listener.start, stop)
    async def ready_checks() -> Checks:
        return ready()

    ops, lifecycle = await start_ops_server(service.metrics_host, service.metrics_port,
                                            registry, ready_checks, details)
    stop_watch = asyncio.create_task(_drain_on(stop, lifecycle))
    steps.done("listener")
    log.info("%s started (%s)", name, steps)
    try:
        yield ServiceRuntime(name, pool, producer, stop, listener, postgres, kafka, service)
    finally:
        log.info("%s stopping", name)
        stop_watch.cancel()
        await ops.cleanup()
        await listener.stop()
        await producer.stop()
        await pool.close()
