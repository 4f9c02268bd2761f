"""The webhook retry policy: capped exponential backoff with jitter, then dead."""
from __future__ import annotations

import pytest

from dsync_services.fanout.backoff import next_step, retry_delay


def test_delay_doubles_up_to_the_cap_and_jitters_within_half() -> None:
    lows = [retry_delay(n, base_s=1, cap_s=30, rand=lambda: 0.0) for n in range(1, 8)]
    highs = [retry_delay(n, base_s=1, cap_s=30, rand=lambda: 0.999999) for n in range(1, 8)]
    assert lows == [0.5, 1, 2, 4, 8, 15, 15]
    assert [round(h) for h in highs] == [1, 2, 4, 8, 16, 30, 30]


def test_huge_attempt_numbers_stay_capped() -> None:
    assert retry_delay(10_000, base_s=1, cap_s=60, rand=lambda: 0.5) == 45


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError):
        retry_delay(0, base_s=1, cap_s=1)


def test_next_step() -> None:
    kw = {"max_attempts": 3, "base_s": 0.1, "cap_s": 1.0, "rand": lambda: 0.0}
    assert next_step(True, 2, **kw).status == "delivered"  # type: ignore[arg-type]
    assert next_step(True, 2, **kw).operation_status == "applied"  # type: ignore[arg-type]
    retry = next_step(False, 1, **kw)  # type: ignore[arg-type]
    assert (retry.status, retry.delay_s, retry.operation_status) == ("retrying", 0.05, "failed")
    assert not retry.pauses_endpoint
    dead = next_step(False, 3, **kw)  # type: ignore[arg-type]
    assert (dead.status, dead.operation_status, dead.pauses_endpoint) == ("dead", "dead", True)
