"""The fetch wait follows the broker's short answers (dsync.kafka.fetch_wait), pure part."""
from __future__ import annotations

from aiokafka import TopicPartition

from dsync.kafka.fetch_wait import FetchWait, behind_unanswered

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_behind_means_the_broker_reported_more_and_the_poll_returned_none_of_it() -> None:
    states = [(TP0, 10, 20, 1), (TP1, 5, 5, 1)]
    assert behind_unanswered(states, answered=set()) == {TP0: (10, 1)}
    assert behind_unanswered(states, answered={TP0}) == {}


def test_two_answers_in_a_row_at_the_same_position_double_the_wait() -> None:
    wait = FetchWait(2, now=Clock())
    wait.after_poll({TP0: (10, 1)})
    assert wait.ms == 2  # once can be a produce still storing its batch
    wait.after_poll({TP0: (10, 2)})
    assert wait.ms == 4
    wait.after_poll({TP0: (10, 3)})
    assert wait.ms == 8


def test_a_poll_without_a_new_answer_or_with_progress_is_no_evidence() -> None:
    wait = FetchWait(2, now=Clock())
    wait.after_poll({TP0: (10, 1)})
    wait.after_poll({TP0: (10, 1)})  # the poll timed out before the next answer
    assert wait.ms == 2
    wait.after_poll({TP0: (11, 2)})  # records came: the position moved
    assert wait.ms == 2
    wait.after_poll({})  # caught up
    wait.after_poll({TP0: (11, 3)})
    assert wait.ms == 2


def test_the_wait_stops_at_its_cap() -> None:
    wait = FetchWait(2, cap_ms=16, now=Clock())
    for answered_at in range(20):
        wait.after_poll({TP1: (3, answered_at)})
    assert wait.ms == 16


def test_the_wait_halves_back_towards_the_setting_after_a_quiet_spell() -> None:
    clock = Clock()
    wait = FetchWait(2, decay_after_s=30, now=clock)
    for answered_at in range(4):
        wait.after_poll({TP0: (7, answered_at)})
    assert wait.ms == 16
    clock.t = 29
    wait.after_poll({})
    assert wait.ms == 16
    clock.t = 30
    wait.after_poll({})
    assert wait.ms == 8
    clock.t = 45
    wait.after_poll({})
    assert wait.ms == 8  # the next halving waits another quiet spell
    for t in (60, 90, 120, 150):
        clock.t = t
        wait.after_poll({})
    assert wait.ms == 2  # never below the setting
