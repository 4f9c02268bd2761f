"""Run a service whose job is to consume `dsync.events` in its own consumer group."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter

from dsync.event_consumer import ApplyEvent, EventHandler
from dsync.kafka.ordered_consumer import OrderedConsumer
from dsync.service_runtime import ServiceRuntime, service_runtime

Extra = Callable[[ServiceRuntime], Awaitable[None]]


async def run_event_service(name: str, make_apply: Callable[[ServiceRuntime], ApplyEvent],
                            *, registry: CollectorRegistry | None = None,
                            extra_tasks: tuple[Extra, ...] = ()) -> None:
    """Consume `dsync.events` as group `dsync-<name>`, applying each new event once."""
    registry = registry or CollectorRegistry()
    consumed = Counter(f"dsync_{name}_events_consumed_total", "Events applied", ["type"],
                       registry=registry)
    consumer: OrderedConsumer | None = None
    async with service_runtime(name, registry,
                               lambda: consumer is not None and consumer.assigned) as rt:
        apply = make_apply(rt)

        async def counted(conn, event):  # type: ignore[no-untyped-def]
            await apply(conn, event)
            consumed.labels(event.type).inc()

        handler = EventHandler(rt.pool, name, counted)
        consumer = OrderedConsumer(rt.kafka, topic=rt.kafka.events_topic,
                                   group_id=f"dsync-{name}", service=name, handler=handler,
                                   pool=rt.pool)
        await asyncio.gather(consumer.run(rt.stop), *(task(rt) for task in extra_tasks))
