"""The fanout service's metrics: a closed vocabulary on an app-scoped registry.

Labels are bounded: `outcome` is one of the attempt outcomes of `sender.py`; no tenant or
endpoint ids as labels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LAG = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300, 3600)


@dataclass
class FanoutMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter("dsync_fanout_events_consumed_total",
                              "Events that some endpoint wanted, applied once", ["type"],
                              registry=r)
        self.enqueued = Counter("dsync_webhook_deliveries_enqueued_total",
                                "Deliveries created (one per event and matching endpoint)",
                                registry=r)
        self.attempts = Counter("dsync_webhook_attempts_total", "HTTP attempts, by outcome",
                                ["outcome"], registry=r)
        self.attempt_seconds = Histogram("dsync_webhook_attempt_seconds",
                                         "Duration of one attempt", buckets=_LATENCY,
                                         registry=r)
        self.delivered = Counter("dsync_webhook_deliveries_delivered_total",
                                 "Deliveries acknowledged with 2xx", registry=r)
        self.dead = Counter("dsync_webhook_deliveries_dead_total",
                            "Deliveries given up (their endpoint was paused)", registry=r)
        self.lag_seconds = Histogram("dsync_webhook_delivery_lag_seconds",
                                     "Event time to 2xx from the receiver", buckets=_LAG,
                                     registry=r)
        self.active_queues = Gauge("dsync_webhook_active_queues",
                                   "Endpoint queues being delivered by this process",
                                   registry=r)
        self.cleaned = Counter("dsync_webhook_log_rows_deleted_total",
                               "Delivery and attempt rows removed by retention", registry=r)
