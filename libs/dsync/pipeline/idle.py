"""When a consumer may stop polling the broker, and how a producer wakes it.

The embedded broker answers a fetch only when its wait expires (its long-poll is a sleep),
and each fetch costs it more as its log grows, so a consumer that polls with a short wait
burns CPU whenever it is not busy, and one with a long wait adds latency. dsync's
consumers therefore pause their partitions (no fetch at all) when there is nothing to
fetch and are woken by a PostgreSQL NOTIFY from the producer (`Wakeups`, coalesced): the
command consumer after `idle_after_s` without a record (`IdleClock`), the event consumers
after each drained wake-up. A paused consumer re-checks once shortly after pausing and
then every `idle_check_s`, in case a NOTIFY was lost.

On Apache Kafka (fetch long-polls wake on data) set `DSYNC_KAFKA_IDLE_PAUSE=false`: the
consumer then simply long-polls with `DSYNC_KAFKA_FETCH_MAX_WAIT_MS` (e.g. 500).
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable


class IdleClock:
    """Tracks the last time records arrived; says when the consumer may pause."""

    def __init__(self, idle_after_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self.idle_after_s = idle_after_s
        self._now = now
        self._last = now()

    def saw_records(self) -> None:
        self._last = self._now()

    def idle(self) -> bool:
        return self._now() - self._last >= self.idle_after_s


class Wakeups:
    """Sends the wake-up NOTIFY after messages were produced, coalesced: one send at a time,
    and one more after it if messages were produced meanwhile. Every `produced()` call is
    therefore followed by a NOTIFY that *starts* after it, so a consumer that fetches after
    the NOTIFY sees the message."""

    def __init__(self, send: Callable[[], Awaitable[None]]) -> None:
        self._send = send
        self._pending = False
        self._task: asyncio.Task[None] | None = None
        self.sent = 0

    def produced(self) -> None:
        self._pending = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._pending:
            self._pending = False
            await self._send()
            self.sent += 1

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
