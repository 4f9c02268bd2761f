"""The directory service process: the ordered command consumer, the outbox relay (any
process may host it; leader-elected) and the ledger housekeeping."""
from __future__ import annotations

import asyncio

from dsync.pipeline import channels
from dsync.pipeline.consumer import (
    PipelineConsumer,
    consumer_checks,
    consumer_details,
    export_lag,
)
from dsync.pipeline.relay import OutboxRelay, RelayMetrics
from dsync.sampling import sample_periodically
from dsync.service_runtime import service_runtime
from dsync.tracing import setup_tracing
from dsync_services.directory.command_consumer import CommandHandler
from dsync_services.directory.gauges import DirectoryGauges, DirectorySampler
from dsync_services.directory.housekeeping import run_housekeeping
from dsync_services.directory.metrics import DirectoryMetrics
from dsync_services.directory.settings import DirectorySettings

GROUP_ID = "dsync-directory"


async def main() -> None:
    metrics = DirectoryMetrics()
    consumer: PipelineConsumer | None = None
    async with service_runtime("directory", metrics.registry, lambda: consumer_checks(consumer),
                               lambda: consumer_details(consumer)) as rt:
        settings = DirectorySettings()
        tracing = setup_tracing("directory")
        handler = CommandHandler(rt.pool, rt.producer, rt.kafka.commands_dlq_topic, metrics,
                                 max_batch=settings.directory_max_batch,
                                 dlq_max_consecutive=settings.dlq_max_consecutive,
                                 tracing=tracing)
        consumer = PipelineConsumer(rt.kafka, topic=rt.kafka.commands_topic, group_id=GROUP_ID,
                                    service="directory", handler=handler, pool=rt.pool,
                                    listener=rt.listener, wake_channel=channels.COMMANDS_WAKE,
                                    max_records=settings.directory_max_batch)
        export_lag(consumer, metrics.registry)
        relay_metrics = RelayMetrics(metrics.registry)
        relay = OutboxRelay(dsn=rt.postgres.database_url, pool=rt.pool, producer=rt.producer,
                            kafka=rt.kafka, listener=rt.listener, metrics=relay_metrics)
        sampler = DirectorySampler(rt.pool, rt.kafka,
                                   DirectoryGauges(metrics.registry, relay_metrics.backlog))
        try:
            await asyncio.gather(consumer.run(rt.stop), relay.run(rt.stop),
                                 run_housekeeping(rt.pool, settings, rt.stop),
                                 sample_periodically(rt.stop, rt.service.metrics_sample_s,
                                                     sampler.sample, "directory gauges"))
        finally:
            await sampler.close()
            tracing.shutdown()
