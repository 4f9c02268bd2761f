"""The one retry policy of the pipeline: capped exponential backoff.

Used wherever a transient failure (database or broker hiccup) is retried: a consumer's
batch, the relay, LISTEN reconnects. Poison is never retried; it is dead-lettered.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    """`next()` returns the delay before the next attempt: first, first*2, ... up to cap."""

    first_s: float = 0.05
    cap_s: float = 5.0
    _current: float = 0.0

    def next(self) -> float:
        self._current = self.first_s if self._current == 0 else min(self._current * 2,
                                                                    self.cap_s)
        return self._current

    def reset(self) -> None:
        self._current = 0.0
