"""`run_event_service`: a whole process whose job is consuming `dsync.events` in its own
consumer group (`dsync-<name>`) with exactly-once effects (roles, sessions, fanout)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter

from dsync.pipeline import channels
from dsync.pipeline.consumer import (
    PipelineConsumer,
    consumer_checks,
    consumer_details,
    export_lag,
)
from dsync.pipeline.event_effects import EventEffects, TrackedEvents
from dsync.service_runtime import ServiceRuntime, service_runtime

Extra = Callable[[ServiceRuntime], Awaitable[None]]
"""Another long-running task of the process, given the runtime (ledger worker, …)."""


async def run_event_service(name: str, registry: CollectorRegistry,
                            make_effects: Callable[[ServiceRuntime], EventEffects],
                            extra_tasks: tuple[Extra, ...] = ()) -> None:
    """Consume until SIGTERM, with `extra_tasks` beside the consumer."""
    skipped = Counter(f"dsync_{name}_events_skipped_total",
                      "Events of dsync.events this service ignored without any I/O",
                      registry=registry)
    consumer: PipelineConsumer | None = None
    async with service_runtime(name, registry, lambda: consumer_checks(consumer),
                               lambda: consumer_details(consumer)) as rt:
        handler = TrackedEvents(pool=rt.pool, name=name, effects=make_effects(rt),
                                producer=rt.producer, dlq_topic=rt.kafka.events_dlq_topic,
                                on_skipped=skipped.inc)
        consumer = PipelineConsumer(
            rt.kafka, topic=rt.kafka.events_topic, group_id=f"dsync-{name}", service=name,
            handler=handler, pool=rt.pool, listener=rt.listener,
            wake_channel=channels.EVENTS_WAKE,
            fetch_max_wait_ms=rt.kafka.kafka_events_fetch_max_wait_ms, notified=True,
            linger_ms=rt.kafka.kafka_events_linger_ms)
        export_lag(consumer, registry)
        await asyncio.gather(consumer.run(rt.stop), *(task(rt) for task in extra_tasks))
