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
    """Kafka client settings. `fetch_max_wait_ms` is small for the embedded broker (KAFKA.md §2)."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_fetch_max_wait_ms: int = Field(20, ge=1, le=10_000)
    """Long-poll of the directory's command consumer: on the SCIM answer's path."""
    kafka_events_fetch_max_wait_ms: int = Field(50, ge=1, le=10_000)
    """Long-poll of the `dsync.events` consumers (roles, sessions, fanout): off the SCIM
    answer's path, so a little more wait buys back CPU on the embedded broker."""
    kafka_enable_idempotence: bool = False
    kafka_session_timeout_ms: int = Field(6000, ge=1000, le=300_000)
    """How long the group waits for a dead member before moving its partitions (a
    SIGKILLed consumer's partitions are idle this long)."""
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
