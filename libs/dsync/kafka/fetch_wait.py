"""A consumer's fetch wait: short while caught up, long enough to read the log when behind.

The embedded broker (Tansu, memory storage) treats a fetch's `max_wait_ms` as a deadline
for reading the log too: for each partition it lists the stored batches from the first one
on, and it stops listing when the wait is used up (by this partition, or by the ones
before it in the request). With the few milliseconds dsync's command consumer asks for, a
partition holding thousands of batches is answered with nothing, or one batch, although
its high watermark is far ahead; a partition whose listing never fits stays stuck while
its producers go on (a tenant's writes would wait for as long as the load lasts). How long
the listing takes grows with the partition's history (the embedded broker keeps it all) and
with the machine's load. Its long-poll is a sleep, on the other hand: a fetch that finds
nothing costs its whole wait in latency.

So the wait depends on what the consumer knows after each fetch answer and each poll:
* **behind** (some partition's high watermark is past its position: there are records to
  read): ask for `budget_ms`, the time the broker needs to list the log. The broker answers
  as soon as it has read records, so the longer wait costs nothing here;
* **caught up**: ask for `base_ms` (the setting), so a new record is seen soon.
A fetch asked with the budget that still comes back without a partition's records
("short") doubles the budget, up to `cap_ms`; after `decay_after_s` without one it halves
again, towards the setting. A new record in a long partition thus costs one short fetch,
then one with the budget. On Apache Kafka no fetch comes back short this way (a long-poll
returns on data) and the budget stays at the setting.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)

CAP_MS = 10_000
"""Longest fetch wait asked for (aiokafka's request timeout is 40 s)."""
DECAY_AFTER_S = 30.0

PartitionState = tuple[TopicPartition, int, int]
"""(partition, position, high watermark) after a fetch answer or a poll."""


def behind(states: Iterable[PartitionState]) -> set[TopicPartition]:
    """The partitions whose high watermark is past the position: records left to read."""
    return {tp for tp, position, end in states if position < end}


@dataclass
class FetchWait:
    """The wait to ask for next (`ms`): `base_ms` while caught up, `budget_ms` while behind
    (module doc)."""

    base_ms: int
    cap_ms: int = CAP_MS
    decay_after_s: float = DECAY_AFTER_S
    now: Callable[[], float] = time.monotonic
    ms: int = field(init=False)
    budget_ms: int = field(init=False)
    _steady_since: float = field(init=False)
    """Last short answer to a fetch asked with the budget, or last decay."""
    _warned_at: float = field(init=False, default=float("-inf"))

    def __post_init__(self) -> None:
        self.ms = self.budget_ms = self.base_ms
        self._steady_since = self.now()

    def after_answer(self, *, is_behind: bool, short: bool) -> None:
        """After a fetch answer: `short` when a partition that is behind got none of its
        records in it."""
        now = self.now()
        if short and self.ms == self.budget_ms:  # asked with the budget: not enough
            self._steady_since = now
            if self.budget_ms < self.cap_ms:
                self.budget_ms = min(self.cap_ms, max(2 * self.budget_ms, 2))
                log.debug("fetch answered short: fetch budget raised to %d ms",
                          self.budget_ms)
            elif now - self._warned_at >= self.decay_after_s:
                self._warned_at = now
                log.warning("fetches are answered short even with a %d ms wait: a partition"
                            " holds too many batches for the embedded broker to read in"
                            " time (restart the stack to start with empty topics)",
                            self.budget_ms)
        self._choose(is_behind, now)

    def after_poll(self, *, is_behind: bool) -> None:
        """After the consumer took what was fetched (positions moved)."""
        self._choose(is_behind, self.now())

    def _choose(self, is_behind: bool, now: float) -> None:
        if self.budget_ms > self.base_ms and now - self._steady_since >= self.decay_after_s:
            self.budget_ms = max(self.base_ms, self.budget_ms // 2)
            self._steady_since = now
        self.ms = self.budget_ms if is_behind else self.base_ms


# ---- the aiokafka edge -------------------------------------------------------------------

def partition_states(consumer: AIOKafkaConsumer) -> list[PartitionState]:
    """`PartitionState` of each assigned, fetching partition whose position and high
    watermark are known. Reads aiokafka's subscription state directly (what `position()`
    and `highwater()` read, without their awaits and asserts): this runs after every fetch
    answer and every poll. A consumer without that state (a test's fake) has none to
    report; `tests/integration/test_fetch_wait.py` fails if aiokafka stops keeping it."""
    state_of = getattr(consumer, "_subscription", None)
    subscription = getattr(state_of, "subscription", None)
    assignment = getattr(subscription, "assignment", None)
    if assignment is None:
        return []
    states = []
    for tp in assignment.tps:
        state = assignment.state_value(tp)
        if state.paused or not state.has_valid_position or state.highwater is None:
            continue
        states.append((tp, state.position, state.highwater))
    return states


def buffered(consumer: AIOKafkaConsumer) -> set[TopicPartition]:
    """Partitions with fetched records the consumer has not taken yet."""
    fetcher = getattr(consumer, "_fetcher", None)
    return set(getattr(fetcher, "_records", ()))


def apply_fetch_wait(consumer: AIOKafkaConsumer, ms: int) -> None:
    """Ask for `ms` in the fetches the consumer sends from now on (aiokafka reads its
    `fetch_max_wait_ms` each time it builds a fetch request; there is no public setter).
    A consumer without aiokafka's fetcher (a test's fake) is left as it is."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None and hasattr(fetcher, "_fetch_max_wait_ms"):
        fetcher._fetch_max_wait_ms = ms  # noqa: SLF001 - see docstring


def on_fetch_answers(consumer: AIOKafkaConsumer, hook: Callable[[], None]) -> None:
    """Call `hook()` after aiokafka's fetcher has taken in each fetch answer, before it
    builds the next request (its `_proc_fetch_request`, wrapped on this one consumer). A
    hook that raises is logged once and never stops the fetcher."""
    fetcher = getattr(consumer, "_fetcher", None)
    original = getattr(fetcher, "_proc_fetch_request", None)
    if fetcher is None or original is None:
        return

    failed: list[bool] = []

    async def answered(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        try:
            hook()
        except Exception:  # a failure here must not stop the fetcher: the wait stays
            if not failed:
                failed.append(True)
                log.warning("choosing the fetch wait failed; keeping it", exc_info=True)
        return result

    fetcher._proc_fetch_request = answered  # noqa: SLF001 - see docstring
