"""Create every dsync topic explicitly with its partition count (docs/pipeline.md).

Called at each service start: on the embedded broker a restart loses all topics, and an
auto-created topic would get the broker's default partition count.
"""
from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError

from dsync.kafka.clients import build_admin
from dsync.settings import KafkaSettings

log = logging.getLogger(__name__)


def topic_plan(settings: KafkaSettings) -> dict[str, int]:
    """Topic name -> partition count."""
    return {
        settings.commands_topic: settings.kafka_commands_partitions,
        settings.commands_dlq_topic: 1,
        settings.events_topic: settings.kafka_events_partitions,
        settings.events_dlq_topic: 1,
        settings.fence_topic: 1,
    }


def new_topics(settings: KafkaSettings, names: set[str] | None = None) -> list[NewTopic]:
    """The topics to create (all, or those in `names`), with replication factor and min ISR."""
    configs = ({"min.insync.replicas": str(settings.kafka_min_insync_replicas)}
               if settings.kafka_min_insync_replicas else None)
    return [NewTopic(name, parts, settings.kafka_replication_factor, topic_configs=configs)
            for name, parts in topic_plan(settings).items() if names is None or name in names]


async def ensure_topics(settings: KafkaSettings, attempts: int = 30) -> None:
    """Create missing topics; retries while the broker is still starting. Raises KafkaError."""
    plan = topic_plan(settings)
    for attempt in range(attempts):
        admin = build_admin(settings)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = new_topics(settings, set(plan) - existing)
            for topic in missing:
                try:
                    await admin.create_topics([topic])
                    log.info("created topic %s with %d partitions",
                             topic.name, topic.num_partitions)
                except TopicAlreadyExistsError:
                    pass
        except KafkaError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
        else:
            return
        finally:
            await admin.close()


async def delete_topic(settings: KafkaSettings, name: str) -> None:
    """Delete a topic (the relay starts `dsync.events` over after a broker reset caught
    mid-batch). Not listed first: a topic the broker auto-created may not be listed yet.
    A topic that does not exist is fine; other refusals raise KafkaError."""
    admin = build_admin(settings)
    try:
        await admin.start()
        response = await admin.delete_topics([name])
        codes = [code for _, code in getattr(response, "topic_error_codes", [])]
        if any(code not in (0, 3) for code in codes):  # 3: UNKNOWN_TOPIC_OR_PARTITION
            raise KafkaError(f"deleting {name} failed with error codes {codes}")
        log.warning("deleted topic %s to republish it in order", name)
    except UnknownTopicOrPartitionError:
        pass
    finally:
        await admin.close()
