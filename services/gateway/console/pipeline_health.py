"""What the console's pipeline page shows: consumer lag per group, outbox backlog,
deprovisioning lag and the ledger's open work. Each figure is read independently; one
that cannot be read (broker down) is reported as unavailable, not as an error page."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from dsync.settings import KafkaSettings

log = logging.getLogger(__name__)
GROUPS = (("dsync-directory", "commands"), ("dsync-roles", "events"),
          ("dsync-sessions", "events"), ("dsync-fanout", "events"))


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    lag: int | None
    partitions: int


async def consumer_lag(settings: KafkaSettings, within_s: float = 5.0) -> list[GroupLag]:
    """End offset minus committed offset, summed over partitions, per consumer group.
    `lag` None when the broker could not be asked."""
    try:
        return await asyncio.wait_for(_lag(settings), within_s)
    except Exception as exc:  # noqa: BLE001 - the page shows "unavailable"
        log.warning("consumer lag unavailable: %s", type(exc).__name__)
        return [GroupLag(g, _topic(settings, t), None, 0) for g, t in GROUPS]


def _topic(settings: KafkaSettings, which: str) -> str:
    return settings.commands_topic if which == "commands" else settings.events_topic


async def _lag(settings: KafkaSettings) -> list[GroupLag]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        out = []
        for group, which in GROUPS:
            topic = _topic(settings, which)
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            ends = await consumer.end_offsets(tps) if tps else {}
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            lag = sum(max(0, ends[tp] - (committed[tp].offset if tp in committed and
                                         committed[tp].offset >= 0 else 0)) for tp in tps)
            out.append(GroupLag(group, topic, lag, len(tps)))
        return out
    finally:
        await consumer.stop()
        await admin.close()


_LEDGER = """
SELECT kind, count(*) FILTER (WHERE status = 'accepted') AS open,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'dead') AS dead,
       max(extract(epoch FROM completed_at - received_at))
         FILTER (WHERE status = 'applied' AND completed_at > now() - interval '1 hour') AS max_s,
       avg(extract(epoch FROM completed_at - received_at))
         FILTER (WHERE status = 'applied' AND completed_at > now() - interval '1 hour') AS avg_s,
       max(extract(epoch FROM now() - received_at))
         FILTER (WHERE status IN ('accepted', 'failed')) AS oldest_open_s
  FROM operations WHERE received_at > now() - interval '7 days' GROUP BY kind ORDER BY kind
"""


async def database_figures(pool: asyncpg.Pool) -> dict[str, Any]:
    """Outbox backlog (unpublished events, oldest age) and, per ledger kind over 7 days:
    open/failed/dead counts, and the last hour's average and worst time to applied —
    `session_revocation` is the deprovisioning lag."""
    outbox = await pool.fetchrow(
        "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS oldest_s"
        " FROM outbox WHERE published_at IS NULL")
    kinds = [dict(r) for r in await pool.fetch(_LEDGER)]
    return {"outbox": dict(outbox) if outbox else {"n": 0, "oldest_s": None}, "kinds": kinds}
