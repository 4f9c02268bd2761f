"""Settings per component, read from the environment once at start, validated, then frozen.

Business code receives these objects; it never reads `os.environ` itself.
"""
from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Frozen(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_prefix="DSYNC_")


class PostgresSettings(_Frozen):
    """`DSYNC_DATABASE_URL`: PostgreSQL DSN (embedded server when unset under `make run`)."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    db_pool_min: int = Field(2, ge=1)
    db_pool_max: int = Field(10, ge=1)


class KafkaSettings(_Frozen):
    """Kafka client settings. The defaults suit the embedded broker, whose fetch long-poll
    is a sleep (a consumer sees new records only when its wait expires); see
    `dsync.pipeline.idle` and docs/pipeline.md for Apache Kafka values."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_fetch_max_wait_ms: int = Field(2, ge=1, le=10_000)
    """Long-poll of the directory's command consumer while commands flow (on the SCIM
    answer's path). Apache Kafka wakes a long-poll on data: 500 there."""
    kafka_events_fetch_max_wait_ms: int = Field(50, ge=1, le=10_000)
    """Long-poll of the `dsync.events` consumers (roles, sessions, fanout). They fetch when
    the relay announces events, so this bounds only the fetches that find nothing."""
    kafka_events_linger_ms: int = Field(50, ge=0, le=10_000)
    """An event consumer takes events at most once per this interval while they flow, in
    batches (fewer transactions and round trips per event; adds at most this much to the
    effects' lag)."""
    relay_linger_ms: int = Field(10, ge=0, le=10_000)
    """The outbox relay publishes at most once per this interval while events flow."""
    kafka_idle_pause: bool = True
    """Pause a consumer's fetching after `kafka_idle_after_s` without records, until a
    producer's NOTIFY wakes it (the embedded broker's fetch wait costs CPU while idle).
    False on Apache Kafka: consumers then long-poll with the waits above."""
    kafka_idle_after_s: float = Field(1.0, gt=0, le=600)
    kafka_idle_check_s: float = Field(5.0, gt=0, le=600)
    """A paused consumer still fetches once every this many seconds (a missed NOTIFY)."""
    kafka_max_backoff_s: float = Field(5.0, gt=0, le=300)
    """Cap of the retry backoff of a batch that failed transiently."""
    kafka_enable_idempotence: bool = False
    kafka_session_timeout_ms: int = Field(2000, ge=1000, le=300_000)
    """How long the group waits for a dead member before moving its partitions, when its
    successor cannot evict it at once (another host; see `dsync.pipeline.predecessors`).
    2 s suits the embedded broker; Apache Kafka refuses less than its
    `group.min.session.timeout.ms` (6 s by default): use 10000 there."""
    kafka_heartbeat_interval_ms: int = Field(500, ge=100, le=100_000)
    """Consumer-group heartbeat; keep it at most a third of the session timeout."""
    kafka_commands_partitions: int = Field(16, ge=1)
    kafka_events_partitions: int = Field(16, ge=1)
    kafka_topic_prefix: str = "dsync"

    @property
    def commands_topic(self) -> str:
        return f"{self.kafka_topic_prefix}.commands"

    @property
    def commands_dlq_topic(self) -> str:
        return f"{self.kafka_topic_prefix}.commands.dlq"

    @property
    def fence_topic(self) -> str:
        return f"{self.kafka_topic_prefix}.relay.fence"

    @property
    def events_topic(self) -> str:
        return f"{self.kafka_topic_prefix}.events"

    @property
    def events_dlq_topic(self) -> str:
        return f"{self.kafka_topic_prefix}.events.dlq"


class HttpSettings(_Frozen):
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    admin_token: str = ""
    write_timeout_s: float = Field(10.0, gt=0)
    """How long a SCIM write waits for the directory's outcome before answering 503."""
    retry_after_s: int = Field(2, ge=1)
    metrics_port: int = Field(0, ge=0, le=65535)


class ServiceSettings(_Frozen):
    """Common to every consumer service: where to report health and metrics."""

    service_name: str = "dsync"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(0, ge=0, le=65535)
    """Port of the service's own /metrics and /healthz endpoint; 0 picks a free one."""
    run_dir: str = ".dsync/run"
    log_level: str = "INFO"
