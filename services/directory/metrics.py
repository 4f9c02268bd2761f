"""The directory service's metrics: a closed vocabulary on an app-scoped registry."""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class DirectoryMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.commands = Counter("dsync_directory_commands_total",
                                "Commands handled, by outcome", ["status"], registry=r)
        self.batch_seconds = Histogram("dsync_directory_batch_seconds",
                                       "Time to apply one partition batch", registry=r)
        self.batch_size = Histogram("dsync_directory_batch_size", "Commands per transaction",
                                    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500), registry=r)
        self.dlq_breaker_open = Gauge("dsync_directory_dlq_breaker_open",
                                      "1 while a partition is held by the DLQ circuit breaker",
                                      registry=r)
