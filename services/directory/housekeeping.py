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

from dsync.runtime import sleep_or_stop
from dsync_services.directory.settings import DirectorySettings

log = logging.getLogger(__name__)


async def mark_stale_operations(pool: asyncpg.Pool, older_than_s: float) -> int:
    rows = await pool.fetch(
        "UPDATE operations SET status = 'failed', reason_code = 'not_delivered',"
        " retryable = true, completed_at = now(), detail = 'The command was not applied"
        " within ' || $1::int || ' s (lost in a broker outage or restart); the client got"
        " a 503 and may retry, or retry this operation' WHERE kind = 'scim_write'"
        " AND status = 'accepted' AND received_at < now() - make_interval(secs => $1)"
        " RETURNING id", older_than_s)
    return len(rows)


async def apply_retention(pool: asyncpg.Pool, s: DirectorySettings) -> dict[str, int]:
    deleted = {}
    for name, sql, days in (
        ("operations", "DELETE FROM operations WHERE status IN ('applied', 'rejected',"
         " 'dead') AND completed_at < now() - make_interval(secs => $1)",
         s.operations_retention_days),
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
            stale = await mark_stale_operations(pool, settings.stale_operation_s)
            if stale:
                log.warning("%d operations were never delivered; marked failed", stale,
                            extra={"reason_code": "not_delivered"})
            removed = await apply_retention(pool, settings)
            if any(removed.values()):
                log.info("retention removed %s", removed)
        except Exception as exc:  # noqa: BLE001 - upkeep must outlive any failure
            log.warning("housekeeping failed: %s: %s", type(exc).__name__, exc)
        await sleep_or_stop(stop, settings.housekeeping_interval_s)
