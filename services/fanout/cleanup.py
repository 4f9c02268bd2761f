"""Retention of the delivery log: a loop that deletes old attempts and finished deliveries.

Attempts older than `webhook_retention_s` are deleted, and so are deliveries that were
delivered or skipped longer ago than that. Queued and dead deliveries are kept whatever
their age (they are work still to do). Deletes run in bounded batches.
"""
from __future__ import annotations

import asyncio
import logging

import asyncpg

from dsync.process import sleep_or_stop
from dsync_services.fanout.metrics import FanoutMetrics
from dsync_services.fanout.settings import WebhookSettings

log = logging.getLogger(__name__)
BATCH = 5000


async def purge_once(pool: asyncpg.Pool, retention_s: float) -> int:
    """Delete expired log rows; return how many were deleted."""
    total = 0
    for sql in (
        "DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts"
        " WHERE started_at < now() - make_interval(secs => $1) LIMIT $2)",
        "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries"
        " WHERE status IN ('delivered', 'skipped')"
        " AND updated_at < now() - make_interval(secs => $1) LIMIT $2)",
    ):
        while True:
            status = await pool.execute(sql, retention_s, BATCH)
            deleted = int(status.rsplit(" ", 1)[-1])
            total += deleted
            if deleted < BATCH:
                break
    return total


async def cleanup_loop(pool: asyncpg.Pool, settings: WebhookSettings, metrics: FanoutMetrics,
                       stop: asyncio.Event) -> None:
    """Purge every `webhook_cleanup_interval_s` until `stop`; database errors are logged."""
    while not stop.is_set():
        try:
            deleted = await purge_once(pool, settings.webhook_retention_s)
            if deleted:
                metrics.cleaned.inc(deleted)
                log.info("webhook log retention removed %d rows", deleted)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("webhook log cleanup failed: %s", exc)
        await sleep_or_stop(stop, settings.webhook_cleanup_interval_s)
