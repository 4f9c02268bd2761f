"""The fanout service process: webhooks for every tenant (docs/events.md).

Three loops in one process: the `dsync.events` consumer (group `dsync-fanout`) that turns
each event some endpoint wants into deliveries exactly once (enqueue.py, with the
in-memory endpoint_cache.py deciding relevance), the delivery worker that sends them
(delivery_worker.py), and the delivery-log retention loop (cleanup.py).
"""
from __future__ import annotations

from dsync.pipeline.event_service import run_event_service
from dsync.sampling import sample_periodically
from dsync.service_runtime import ServiceRuntime
from dsync_services.fanout.cleanup import cleanup_loop
from dsync_services.fanout.delivery_worker import DeliveryWorker
from dsync_services.fanout.endpoint_cache import EndpointCache
from dsync_services.fanout.enqueue import Enqueuer
from dsync_services.fanout.gauges import DeliveryGauges
from dsync_services.fanout.metrics import FanoutMetrics
from dsync_services.fanout.sender import Sender
from dsync_services.fanout.settings import WebhookSettings


async def main() -> None:
    settings = WebhookSettings()
    metrics = FanoutMetrics()

    def effects(rt: ServiceRuntime) -> Enqueuer:
        return Enqueuer(metrics, EndpointCache(rt.pool, rt.listener))

    async def deliver(rt: ServiceRuntime) -> None:
        async with Sender(settings) as sender:
            worker = DeliveryWorker(rt.postgres.database_url, rt.pool, rt.listener,
                                    settings, sender, metrics)
            await worker.run(rt.stop)

    async def retain(rt: ServiceRuntime) -> None:
        await cleanup_loop(rt.pool, settings, metrics, rt.stop)

    async def sample(rt: ServiceRuntime) -> None:
        gauges = DeliveryGauges(rt.pool, metrics.registry)
        await sample_periodically(rt.stop, rt.service.metrics_sample_s, gauges.sample,
                                  "webhook deliveries")

    await run_event_service("fanout", metrics.registry, effects, (deliver, retain, sample))
