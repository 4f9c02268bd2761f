"""Operations per minute by status over a window, drawn as an inline SVG bar chart (pure).

Counts are stacked per minute in a fixed status order; the chart has a text summary for
screen readers, so the figure never carries information only as colour.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ORDER = ("applied", "accepted", "rejected", "failed", "dead")
COLOURS = {"applied": "#137333", "accepted": "#8ab4f8", "rejected": "#e37400",
           "failed": "#b3261e", "dead": "#5f0f0a"}


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    totals: dict[str, int]
    peak: int
    start: datetime
    end: datetime


def build_chart(counts: list[tuple[datetime, str, int]], end: datetime,
                window: timedelta = timedelta(hours=24), width: int = 1440,
                height: int = 120) -> Chart:
    """Bars for `counts` ((minute, status, n)) within (end - window, end]; one column per
    minute, heights scaled to the busiest minute."""
    start = end - window
    minutes = max(1, int(window.total_seconds() // 60))
    per: dict[int, dict[str, int]] = {}
    totals = dict.fromkeys(ORDER, 0)
    for minute, status, n in counts:
        index = int((minute - start).total_seconds() // 60)
        if 0 <= index < minutes and status in totals:
            per.setdefault(index, {})[status] = per.get(index, {}).get(status, 0) + n
            totals[status] += n
    peak = max((sum(c.values()) for c in per.values()), default=0)
    column = width / minutes
    bars: list[Bar] = []
    for index, by_status in sorted(per.items()):
        base = float(height)
        for status in ORDER:
            n = by_status.get(status, 0)
            if not n:
                continue
            h = max(1.0, height * n / peak)
            base -= h
            when = (start + timedelta(minutes=index)).strftime("%H:%M")
            bars.append(Bar(round(index * column, 2), round(base, 2), max(1.0, round(column, 2)),
                            round(h, 2), COLOURS[status], f"{when} UTC: {n} {status}"))
    return Chart(width, height, bars, totals, peak, start, end)
