"""The directory service's public functions for the gateway (the console's pipeline page):
dead-lettered commands and their replay. Same code as `make dlq` (`dlq_tool`)."""
from __future__ import annotations

from typing import Any

from dsync.settings import KafkaSettings
from dsync_services.directory import dlq_tool


async def dead_letters(settings: KafkaSettings, limit: int = 200) -> list[dict[str, Any]]:
    """Dead-lettered commands, oldest first: DLQ offset, origin, error, tenant, payload head.
    Reads the DLQ topic from the start (about a second)."""
    return [dlq_tool.describe(r) for r in await dlq_tool.read_dlq(settings, limit)]


async def replay(settings: KafkaSettings, offsets: set[int]) -> int:
    """Publish the DLQ records at `offsets` again on the commands topic; how many were."""
    records = [r for r in await dlq_tool.read_dlq(settings) if r.offset in offsets]
    return await dlq_tool.replay(settings, records) if records else 0
