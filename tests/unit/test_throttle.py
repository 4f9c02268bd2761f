"""Token buckets and in-flight caps per tenant (pure; the test passes the clock)."""
from __future__ import annotations

import uuid

from dsync_services.gateway.throttle import Throttle

A, B = uuid.uuid4(), uuid.uuid4()


def test_burst_then_refill_at_the_rate() -> None:
    t = Throttle()
    for _ in range(3):
        assert t.admit(A, 0.0, rate=2.0, burst=3, max_concurrency=0) is None
        t.release(A)
    refusal = t.admit(A, 0.0, rate=2.0, burst=3, max_concurrency=0)
    assert refusal is not None and refusal.reason == "rate" and refusal.retry_after_s == 1
    assert t.admit(A, 0.5, rate=2.0, burst=3, max_concurrency=0) is None  # one token back
    assert t.admit(A, 0.5, rate=2.0, burst=3, max_concurrency=0) is not None


def test_retry_after_rounds_up_the_wait() -> None:
    t = Throttle()
    assert t.admit(A, 0.0, rate=0.1, burst=1, max_concurrency=0) is None
    refusal = t.admit(A, 0.0, rate=0.1, burst=1, max_concurrency=0)
    assert refusal is not None and refusal.retry_after_s == 10


def test_tenants_do_not_share_buckets() -> None:
    t = Throttle()
    assert t.admit(A, 0.0, rate=1.0, burst=1, max_concurrency=0) is None
    assert t.admit(A, 0.0, rate=1.0, burst=1, max_concurrency=0) is not None
    assert t.admit(B, 0.0, rate=1.0, burst=1, max_concurrency=0) is None


def test_concurrency_cap_counts_in_flight_requests() -> None:
    t = Throttle()
    assert t.admit(A, 0.0, rate=0, burst=1, max_concurrency=2) is None
    assert t.admit(A, 0.0, rate=0, burst=1, max_concurrency=2) is None
    refusal = t.admit(A, 0.0, rate=0, burst=1, max_concurrency=2)
    assert refusal is not None and refusal.reason == "concurrency"
    t.release(A)
    assert t.admit(A, 0.0, rate=0, burst=1, max_concurrency=2) is None
    t.release(A)
    t.release(A)
    assert t.in_flight == {}


def test_zero_means_unlimited() -> None:
    t = Throttle()
    for _ in range(10_000):
        assert t.admit(A, 0.0, rate=0, burst=1, max_concurrency=0) is None


def test_a_costly_request_puts_the_bucket_in_debt() -> None:
    t = Throttle()
    assert t.admit(A, 0.0, rate=10.0, burst=5, max_concurrency=0) is None
    t.release(A)
    t.charge(A, 8, burst=5)  # 4 tokens left - 8 = -4, bounded at -5
    refusal = t.admit(A, 0.0, rate=10.0, burst=5, max_concurrency=0)
    assert refusal is not None and refusal.reason == "rate"
    assert t.admit(A, 0.49, rate=10.0, burst=5, max_concurrency=0) is not None
    assert t.admit(A, 0.51, rate=10.0, burst=5, max_concurrency=0) is None  # repaid
    t.charge(A, 100, burst=5)
    assert t.buckets[A].tokens == -5.0


def test_searches_have_their_own_cap() -> None:
    t = Throttle()
    assert t.admit(A, 0.0, rate=0, burst=1, max_concurrency=10, search=True,
                   max_searches=1) is None
    refusal = t.admit(A, 0.0, rate=0, burst=1, max_concurrency=10, search=True,
                      max_searches=1)
    assert refusal is not None and refusal.reason == "searches"
    assert t.admit(A, 0.0, rate=0, burst=1, max_concurrency=10) is None  # not a search
    t.release(A, search=True)
    t.release(A)
    assert t.in_flight == {} and t.searching == {}


async def test_refusals_are_held_up_to_the_cap_and_the_rest_answered_at_once() -> None:
    import asyncio

    from dsync_services.gateway.middlewares import _hold
    from dsync_services.gateway.tenant_limits import LimitSettings
    from dsync_services.gateway.throttle import Throttle

    app: dict[str, object] = {"limit_settings": LimitSettings(throttle_hold_s=0.05,
                                                              throttle_hold_max=1),
                              "throttle": Throttle()}
    done: list[str] = []

    async def refused(name: str) -> None:
        await _hold(app, 1)  # type: ignore[arg-type]
        done.append(name)

    first = asyncio.create_task(refused("held"))
    await asyncio.sleep(0)  # the first one is now held
    assert app["throttle"].held == 1  # type: ignore[attr-defined]
    await refused("over the cap")  # answered at once
    await first
    assert done == ["over the cap", "held"]
    assert app["throttle"].held == 0  # type: ignore[attr-defined]
    no_hold = {"limit_settings": LimitSettings(throttle_hold_s=0), "throttle": Throttle()}
    await _hold(no_hold, 1)  # type: ignore[arg-type]
    assert no_hold["throttle"].held == 0  # type: ignore[attr-defined]


def test_held_refusals_are_spread_over_half_to_all_of_the_hold() -> None:
    import random

    from dsync_services.gateway.middlewares import hold_delay

    rng = random.Random(7)
    delays = [hold_delay(1.0, 3, rng) for _ in range(200)]
    assert all(0.5 <= d <= 1.0 for d in delays)
    assert max(delays) - min(delays) > 0.4  # not one instant for a whole burst
    assert all(0.25 <= hold_delay(1.0, 0.5, rng) <= 0.5 for _ in range(50))  # Retry-After caps
    assert hold_delay(0, 1, rng) == 0
