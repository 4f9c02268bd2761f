"""The directory service process: the ordered command consumer plus the outbox relay."""
from __future__ import annotations

import asyncio

from dsync.kafka.ordered_consumer import OrderedConsumer
from dsync.service_runtime import service_runtime
from dsync_services.directory.command_consumer import CommandHandler
from dsync_services.directory.housekeeping import run_housekeeping
from dsync_services.directory.metrics import DirectoryMetrics
from dsync_services.directory.outbox_relay import OutboxRelay
from dsync_services.directory.settings import DirectorySettings

GROUP_ID = "dsync-directory"


async def main() -> None:
    metrics = DirectoryMetrics()
    consumer: OrderedConsumer | None = None
    async with service_runtime("directory", metrics.registry,
                               lambda: consumer is not None and consumer.assigned) as rt:
        settings = DirectorySettings()
        handler = CommandHandler(rt.pool, rt.producer, rt.kafka.commands_dlq_topic, metrics,
                                 max_batch=settings.directory_max_batch,
                                 dlq_max_consecutive=settings.dlq_max_consecutive)
        consumer = OrderedConsumer(rt.kafka, topic=rt.kafka.commands_topic, group_id=GROUP_ID,
                                   service="directory", handler=handler, pool=rt.pool,
                                   max_records=settings.directory_max_batch)
        relay = OutboxRelay(rt.postgres.database_url, rt.pool, rt.producer,
                            rt.kafka.events_topic, metrics, kafka=rt.kafka)
        await asyncio.gather(consumer.run(rt.stop), relay.run(rt.stop),
                             run_housekeeping(rt.pool, settings, rt.stop))
