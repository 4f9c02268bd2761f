"""The fetch wait follows what the broker answers (dsync.kafka.fetch_wait), pure part."""
from __future__ import annotations

from aiokafka import TopicPartition

from dsync.kafka.fetch_wait import FetchWait, behind

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_behind_means_the_high_watermark_is_past_the_position() -> None:
    assert behind([(TP0, 10, 20), (TP1, 5, 5)]) == {TP0}


def test_behind_asks_for_the_budget_and_caught_up_for_the_setting() -> None:
    wait = FetchWait(2, now=Clock())
    wait.after_answer(is_behind=True, short=True)  # asked with 2 ms: the budget is 2 ms
    assert (wait.ms, wait.budget_ms) == (4, 4)
    wait.after_answer(is_behind=True, short=False)  # records came
    assert wait.ms == 4
    wait.after_poll(is_behind=False)  # taken, caught up: a new record is seen soon
    assert (wait.ms, wait.budget_ms) == (2, 4)


def test_a_short_answer_to_a_short_wait_does_not_raise_the_budget() -> None:
    wait = FetchWait(2, now=Clock())
    wait.after_answer(is_behind=True, short=True)
    wait.after_poll(is_behind=False)
    assert wait.ms == 2
    wait.after_answer(is_behind=True, short=True)  # asked with 2 ms, budget is 4: use it
    assert (wait.ms, wait.budget_ms) == (4, 4)
    wait.after_answer(is_behind=True, short=True)  # asked with the budget: not enough
    assert (wait.ms, wait.budget_ms) == (8, 8)


def test_the_budget_stops_at_its_cap() -> None:
    wait = FetchWait(2, cap_ms=16, now=Clock())
    for _ in range(20):
        wait.after_answer(is_behind=True, short=True)
    assert wait.budget_ms == 16


def test_the_budget_halves_back_towards_the_setting_after_a_quiet_spell() -> None:
    clock = Clock()
    wait = FetchWait(2, decay_after_s=30, now=clock)
    for _ in range(4):
        wait.after_answer(is_behind=True, short=True)
    assert wait.budget_ms == 32
    clock.t = 29
    wait.after_poll(is_behind=True)
    assert wait.budget_ms == 32
    clock.t = 30
    wait.after_poll(is_behind=True)
    assert (wait.ms, wait.budget_ms) == (16, 16)
    clock.t = 45
    wait.after_poll(is_behind=True)
    assert wait.budget_ms == 16  # the next halving waits another quiet spell
    for t in (60, 90, 120, 150):
        clock.t = t
        wait.after_poll(is_behind=False)
    assert (wait.ms, wait.budget_ms) == (2, 2)  # never below the setting


async def test_a_failing_hook_never_stops_the_fetcher() -> None:
    from types import SimpleNamespace
    from typing import Any

    from dsync.kafka.fetch_wait import on_fetch_answers

    async def proc(*_args: Any) -> bool:
        return True

    consumer: Any = SimpleNamespace(_fetcher=SimpleNamespace(_proc_fetch_request=proc))
    calls: list[int] = []

    def hook() -> None:
        calls.append(1)
        raise KeyError("assignment changed under us")

    on_fetch_answers(consumer, hook)
    assert await consumer._fetcher._proc_fetch_request("assignment", 0, "request") is True
    assert await consumer._fetcher._proc_fetch_request("assignment", 0, "request") is True
    assert calls == [1, 1]
