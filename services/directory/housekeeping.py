"""Periodic ledger and storage upkeep, run by the directory service.

* Stale writes: an operation still `accepted` long after its write timeout was never
  applied (its command was lost, e.g. in a broker restart) — it becomes `failed` with
  reason `not_delivered`, retryable, so the ledger accounts for it and an operator can
  retry it. If the command does arrive later, the directory still applies it once.
* Retention: terminal operations, published outbox rows and consumed-event dedupe rows
  older than their configured retention are deleted.
"""
from __future__ import annotations

import asyncio
import logging

import asyncpg

from dsync.ledger import writes
from dsync.process import sleep_or_stop
from dsync_services.directory.settings import DirectorySettings

log = logging.getLogger(__name__)


async def apply_retention(pool: asyncpg.Pool, s: DirectorySettings) -> dict[str, int]:
    deleted = {"operations": await writes.delete_finished(pool, s.operations_retention_days
                                                          * 86400)}
    for name, sql, days in (
        ("outbox", "DELETE FROM outbox WHERE published_at IS NOT NULL AND"
         " published_at < now() - make_interval(secs => $1)", s.outbox_retention_days),
        ("consumed_events", "DELETE FROM consumed_events WHERE"
         " consumed_at < now() - make_interval(secs => $1)",
         s.consumed_events_retention_days),
    ):
        status = await pool.execute(sql, days * 86400)
        deleted[name] = int(status.split()[-1])
    return deleted


async def run_housekeeping(pool: asyncpg.Pool, settings: DirectorySettings,
                           stop: asyncio.Event) -> None:
    """Loop until `stop`; database errors are logged and retried next round."""
    while not stop.is_set():
        try:
            stale = await writes.mark_stale_writes(pool, settings.stale_operation_s)
            if stale:
                log.warning("%d operations were never delivered; marked failed", stale,
                            extra={"reason_code": "not_delivered"})
            removed = await apply_retention(pool, settings)
            if any(removed.values()):
                log.info("retention removed %s", removed)
        except Exception as exc:  # noqa: BLE001 - upkeep must outlive any failure
            log.warning("housekeeping failed: %s: %s", type(exc).__name__, exc)
        await sleep_or_stop(stop, settings.housekeeping_interval_s)
