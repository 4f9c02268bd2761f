"""When a consumer may stop polling the broker, and when a producer must wake it.

The embedded broker answers a fetch only when its wait expires (its long-poll is a sleep),
so a consumer that polls with a short wait burns CPU at idle and one with a long wait adds
latency. dsync does both: while records flow it polls with a short wait; after
`idle_after_s` without a record it *pauses* its partitions (no fetch at all) and waits for
a PostgreSQL NOTIFY from a producer, or `idle_check_s` as a fallback.

A producer (`Waker`) sends that NOTIFY only for its first message after a quiet spell of
`idle_after_s / 2`: a consumer cannot have paused while this producer kept it busy, so
steady traffic costs no extra round trip. Several producers each wake on their own first
message; a NOTIFY to a consumer that is not paused is harmless.

On Apache Kafka (fetch long-polls wake on data) set `DSYNC_KAFKA_IDLE_PAUSE=false`: the
consumer then simply long-polls with `DSYNC_KAFKA_FETCH_MAX_WAIT_MS` (e.g. 500).
"""
from __future__ import annotations

import time
from collections.abc import Callable


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


class Waker:
    """Says when a message follows a quiet spell of `idle_after_s / 2` (then NOTIFY)."""

    def __init__(self, idle_after_s: float, now: Callable[[], float] = time.monotonic) -> None:
        self.quiet_s = idle_after_s / 2
        self._now = now
        self._last = float("-inf")

    def due(self) -> bool:
        """Record a message now; True when the consumer may be paused (wake it)."""
        now = self._now()
        quiet = now - self._last >= self.quiet_s
        self._last = now
        return quiet
