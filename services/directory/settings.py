"""Settings of the directory service (besides the shared Postgres/Kafka/service ones)."""
from __future__ import annotations

from pydantic import Field

from dsync.settings import _Frozen


class DirectorySettings(_Frozen):
    directory_max_batch: int = Field(500, ge=1, le=5000)
    """Most commands applied in one transaction (group commit); 1 disables group commit."""
    dlq_max_consecutive: int = Field(100, ge=1)
    """Circuit breaker: after this many malformed commands in a row on a partition, the
    consumer stops dead-lettering and holds the partition (a bad deploy must not drain a
    tenant's stream into the DLQ) until an operator acts."""
    stale_operation_s: float = Field(60.0, gt=0)
    """An `accepted` SCIM write older than this is marked `failed` / `not_delivered`
    (e.g. lost in a broker restart); it is still applied if its command arrives later."""
    operations_retention_days: float = Field(30.0, gt=0)
    outbox_retention_days: float = Field(7.0, gt=0)
    consumed_events_retention_days: float = Field(8.0, gt=0)
    """Keep longer than the outbox: a republished event must still be recognised."""
    housekeeping_interval_s: float = Field(10.0, gt=0)
