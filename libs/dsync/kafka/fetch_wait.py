"""A consumer's fetch wait, raised while the broker answers fetches short.

The embedded broker (Tansu, memory storage) treats a fetch's `max_wait_ms` as a deadline
for reading the log too: for each partition it lists the stored batches from the first one
on, and it stops listing when the wait is used up (by this partition, or by the ones
before it in the request). With the few milliseconds dsync's command consumer asks for, a
partition holding thousands of batches is answered with nothing, or one batch, although
its high watermark is far ahead; a partition whose listing never fits stays stuck while
its producers go on (a tenant's writes would wait for as long as the load lasts). How long
the listing takes grows with the partition's history (the embedded broker keeps it all) and
with the machine's load.

So a consumer watches for that answer: a partition that the broker says holds records past
the position, answered with none of them on two polls in a row at the same position. Each
such poll doubles the wait (up to `cap_ms`); the broker answers at once whenever it has
records, so a longer wait costs only the fetches that find nothing. After `decay_after_s`
without one the wait halves again, towards the setting. On Apache Kafka a fetch is never
answered short this way (a long-poll returns on data), and the wait stays as set.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)

CAP_MS = 10_000
"""Longest fetch wait asked for (aiokafka's request timeout is 40 s)."""
DECAY_AFTER_S = 30.0


PartitionState = tuple[TopicPartition, int, int, int]
"""(partition, position, high watermark, when the broker last answered for it (ms))."""


def behind_unanswered(states: Iterable[PartitionState], answered: set[TopicPartition]
                      ) -> dict[TopicPartition, tuple[int, int]]:
    """The partitions that the broker says hold records past the position and that the poll
    returned none of: partition -> (position, when the broker last answered for it)."""
    return {tp: (position, answered_at) for tp, position, end, answered_at in states
            if tp not in answered and position < end}


@dataclass
class FetchWait:
    """The wait to ask for: `base_ms` (the setting), doubled by each short answer (a fetch
    answer that leaves a partition behind at the same position as the answer before it),
    halved again after `decay_after_s` without one."""

    base_ms: int
    cap_ms: int = CAP_MS
    decay_after_s: float = DECAY_AFTER_S
    now: Callable[[], float] = time.monotonic
    ms: int = field(init=False)
    _behind: dict[TopicPartition, tuple[int, int]] = field(init=False,
                                                         default_factory=dict)
    _steady_since: float = field(init=False)
    """Last short answer or last decay."""
    _warned_at: float = field(init=False, default=float("-inf"))

    def __post_init__(self) -> None:
        self.ms = self.base_ms
        self._steady_since = self.now()

    def after_poll(self, behind: dict[TopicPartition, tuple[int, int]]) -> None:
        """Record the partitions left behind by this poll (`behind_unanswered`); `ms` is
        then the wait to ask for. A poll that ended before a new answer came (same answer
        time) is no new evidence."""
        short = False
        for tp, (position, answered_at) in behind.items():
            before = self._behind.get(tp)
            short |= (before is not None and before[0] == position
                      and answered_at > before[1])
        self._behind = behind
        now = self.now()
        if short:
            self._steady_since = now
            if self.ms < self.cap_ms:
                self.ms = min(self.cap_ms, self.ms * 2)
                log.debug("fetches answered short: fetch wait raised to %d ms", self.ms)
            elif now - self._warned_at >= self.decay_after_s:
                self._warned_at = now
                log.warning("fetches are answered short even with a %d ms wait: a partition"
                            " holds too many batches for the embedded broker to read in"
                            " time (restart the stack to start with empty topics)", self.ms)
        elif self.ms > self.base_ms and now - self._steady_since >= self.decay_after_s:
            self.ms = max(self.base_ms, self.ms // 2)
            self._steady_since = now


def partition_states(consumer: AIOKafkaConsumer) -> list[PartitionState]:
    """`PartitionState` of each assigned, fetching partition whose position and high
    watermark are known. Reads aiokafka's subscription state directly
    (what `position()` and `highwater()` read, without their awaits and asserts): this runs
    after every poll. A consumer without that state (a test's fake) has none to report;
    `tests/integration/test_fetch_wait.py` fails if aiokafka stops keeping it there."""
    state_of = getattr(consumer, "_subscription", None)
    subscription = getattr(state_of, "subscription", None)
    assignment = getattr(subscription, "assignment", None)
    if assignment is None:
        return []
    states = []
    for tp in assignment.tps:
        state = assignment.state_value(tp)
        if (state.paused or not state.has_valid_position or state.highwater is None
                or state.timestamp is None):
            continue
        states.append((tp, state.position, state.highwater, state.timestamp))
    return states


def apply_fetch_wait(consumer: AIOKafkaConsumer, ms: int) -> None:
    """Ask for `ms` in the fetches the consumer sends from now on (aiokafka reads its
    `fetch_max_wait_ms` each time it builds a fetch request; there is no public setter).
    A consumer without aiokafka's fetcher (a test's fake) is left as it is."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None and hasattr(fetcher, "_fetch_max_wait_ms"):
        fetcher._fetch_max_wait_ms = ms  # noqa: SLF001 - see docstring
