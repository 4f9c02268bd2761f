"""The roles service's metrics: a closed vocabulary, app-scoped registry, bounded labels."""
from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class RolesMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter("dsync_roles_events_consumed_total", "Events applied", ["type"],
                              registry=r)
        self.roles_changed = Counter("dsync_roles_changes_total",
                                     "access.roles_changed events emitted", ["cause"],
                                     registry=r)
        self.recompute_seconds = Histogram(
            "dsync_roles_recompute_seconds", "Time to recompute and store effective roles",
            ["trigger"], registry=r,
            buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.operations = Counter("dsync_roles_operations_total",
                                  "role_recomputation operations by outcome", ["status"],
                                  registry=r)
