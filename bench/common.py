"""Shared bench plumbing: start embedded servers + the stack as processes, latency stats."""
from __future__ import annotations

import statistics
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from dsync_testkit.plugin import Servers, _prepare_template, fresh_database  # noqa: E402
    from dsync_testkit.stack import RunningStack, start_stack  # noqa: E402


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 of samples in milliseconds."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    qs = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": statistics.median(samples) * 1000, "p95": qs[94] * 1000,
            "p99": qs[98] * 1000}


async def boot(*, spares: bool = False, **env: str) -> tuple[Servers, RunningStack]:
    servers = Servers()
    servers.start()
    await _prepare_template(servers)
    stack = await start_stack(servers.bootstrap, await fresh_database(servers),
                              spares=spares, **env)
    return servers, stack


__all__ = ["RunningStack", "Servers", "boot", "percentiles"]
