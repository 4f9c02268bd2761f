"""What every consumer service does at start and stop, in one place.

`ServiceRuntime` opens the pool (after migrating), creates the topics, starts a producer,
the process's one LISTEN connection (`NotifyListener`) and the /metrics, /livez, /readyz
and /healthz server, and tears all of it down in reverse order.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
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
    await _retry("PostgreSQL", lambda: migrate_dsn(postgres.database_url), stop)
    pool = await _retry("PostgreSQL", lambda: create_pool(postgres), stop)
    assert isinstance(pool, asyncpg.Pool)
    await ensure_topics(kafka)
    producer = build_producer(kafka, client_id=name)
    await producer.start()
    listener = NotifyListener(postgres.database_url)
    await _retry("PostgreSQL", listener.start, stop)
    async def ready_checks() -> Checks:
        return ready()

    ops, lifecycle = await start_ops_server(service.metrics_host, service.metrics_port,
                                            registry, ready_checks, details)
    stop_watch = asyncio.create_task(_drain_on(stop, lifecycle))
    log.info("%s started", name)
    try:
        yield ServiceRuntime(name, pool, producer, stop, listener, postgres, kafka, service)
    finally:
        log.info("%s stopping", name)
        stop_watch.cancel()
        await ops.cleanup()
        await listener.stop()
        await producer.stop()
        await pool.close()
