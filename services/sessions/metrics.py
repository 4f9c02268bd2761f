"""The sessions service's metrics: a closed vocabulary, app-scoped registry, bounded labels."""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

LAG_BUCKETS = (.005, .01, .025, .05, .075, .1, .15, .25, .5, .75, 1, 1.5, 2.5, 5, 10, 30, 60,
               120, 300)


@dataclass
class SessionsMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter("dsync_sessions_events_consumed_total", "Events applied",
                              ["type"], registry=r)
        self.revoked = Counter("dsync_sessions_revoked_total", "Sessions revoked", ["reason"],
                               registry=r)
        self.deprovisioning_lag = Histogram(
            "dsync_deprovisioning_lag_seconds",
            "From the SCIM answer that deprovisioned a user (event time) to the commit that"
            " revoked its last session", ["reason"], registry=r, buckets=LAG_BUCKETS)
        self.operations = Counter("dsync_sessions_operations_total",
                                  "session_revocation operations by outcome", ["status"],
                                  registry=r)
