"""The retry policy (pure): capped exponential backoff with "equal jitter", then dead.

The n-th retry waits between half and all of `min(cap, base * 2**(n-1))`, so concurrent
failures spread out while the delay still grows with every attempt.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


def retry_delay(attempt: int, *, base_s: float, cap_s: float,
                rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based) before the next one.

    `rand()` returns a float in [0, 1); inject a fixed one in tests. Raises ValueError on a
    non-positive attempt.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt - 1, 60))
    return ceiling / 2 + rand() * ceiling / 2


def exhausted(attempts: int, max_attempts: int) -> bool:
    """True when a delivery that has failed `attempts` times in this round must go dead."""
    return attempts >= max_attempts


@dataclass(frozen=True)
class NextStep:
    """What happens to a delivery after an attempt.

    `status`: `delivered`, `retrying` (again after `delay_s`) or `dead` (the endpoint is
    paused). `operation_status` is the ledger status: `applied`, `failed` or `dead`.
    """

    status: str
    delay_s: float
    operation_status: str

    @property
    def pauses_endpoint(self) -> bool:
        return self.status == "dead"


def next_step(ok: bool, round_attempts: int, *, max_attempts: int, base_s: float,
              cap_s: float, rand: Callable[[], float] = random.random) -> NextStep:
    """Decide after attempt number `round_attempts` (1-based, this round) succeeded or not."""
    if ok:
        return NextStep("delivered", 0.0, "applied")
    if exhausted(round_attempts, max_attempts):
        return NextStep("dead", 0.0, "dead")
    return NextStep("retrying", retry_delay(round_attempts, base_s=base_s, cap_s=cap_s,
                                            rand=rand), "failed")
