"""Gauges sampled periodically from the database or the broker (`DSYNC_METRICS_SAMPLE_S`).

A service hands `sample_periodically` a `sample()` coroutine that reads its own tables and
sets its gauges; a failed sample is logged and the gauges keep their last values.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dsync.process import sleep_or_stop

log = logging.getLogger(__name__)


async def sample_periodically(stop: asyncio.Event, every_s: float,
                              sample: Callable[[], Awaitable[None]], what: str) -> None:
    """Call `sample()` now and every `every_s` until `stop`; never raises."""
    while not stop.is_set():
        try:
            await sample()
        except Exception as exc:  # noqa: BLE001 - sampling must outlive any failure
            log.warning("sampling %s failed: %s: %s", what, type(exc).__name__, exc)
        await sleep_or_stop(stop, every_s)


__all__ = ["sample_periodically"]
