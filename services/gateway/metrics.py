"""The gateway's metrics: a closed vocabulary, app-scoped registry, bounded labels."""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("dsync_gateway_requests_total", "HTTP requests",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("dsync_gateway_request_seconds", "HTTP request latency",
                                 ["route", "method"], registry=r,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1,
                                          2.5, 5, 10))
        self.write_outcome = Histogram(
            "dsync_gateway_write_outcome_seconds",
            "SCIM write: command published to the directory's outcome (answered), or to"
            " giving up (timeout, broker_unavailable)", ["outcome"], registry=r,
            buckets=(.0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))
        self.auth_failures = Counter("dsync_gateway_auth_failures_total",
                                     "Rejected credentials", ["api"], registry=r)
