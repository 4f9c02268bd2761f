"""Settings per component, read from the environment once at start, validated, then frozen.

Business code receives these objects; it never reads `os.environ` itself.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dsync.tokens import admin_token_problem

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class _Frozen(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_prefix="DSYNC_")


class PostgresSettings(_Frozen):
    """`DSYNC_DATABASE_URL`: PostgreSQL DSN (embedded server when unset under `make run`)."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    db_pool_min: int = Field(2, ge=1)
    db_pool_max: int = Field(10, ge=1)
    db_app_role: str = Field("dsync_app", pattern=r"^[a-z_][a-z0-9_]*$|^$")
    """Role the pooled connections switch to (`SET ROLE`); row-level security binds it.
    Empty: run as the connecting role (which, as the tables' owner, bypasses RLS)."""


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
    kafka_command_linger_ms: int = Field(2, ge=0, le=100)
    """The gateway's producer waits this long to send the commands of concurrent writes
    together in one produce request (fewer requests for the broker and every fetcher)."""
    relay_linger_ms: int = Field(10, ge=0, le=10_000)
    """The outbox relay publishes at most once per this interval while events flow."""
    kafka_idle_pause: bool = True
    """Consumers pause their partitions when there is nothing to fetch and a producer's
    NOTIFY wakes them (every fetch costs the embedded broker CPU, more as its log grows):
    the command consumer after `kafka_idle_after_s` without records, the event consumers
    after each drained wake-up. False on Apache Kafka: consumers then long-poll with the
    waits above, and the gateway sends no wake-up NOTIFYs."""
    kafka_idle_after_s: float = Field(1.0, gt=0, le=600)
    """Quiet time before the command consumer pauses; after a new assignment an event
    consumer polls until records came or this long passed."""
    kafka_idle_check_s: float = Field(5.0, gt=0, le=600)
    """A paused consumer still fetches once every this many seconds (a missed NOTIFY)."""
    kafka_commit_interval_ms: int = Field(200, ge=0, le=60_000)
    """Consumers commit their offsets at most once per this interval while records flow
    (and always when a poll finds nothing, before pausing, on a rebalance and at stop).
    0 commits after every poll. A crash redelivers at most this much; every handler
    dedupes, so a redelivery changes nothing."""
    kafka_max_backoff_s: float = Field(5.0, gt=0, le=300)
    """Cap of the retry backoff of a batch that failed transiently."""
    kafka_enable_idempotence: bool = False
    kafka_max_message_bytes: int = Field(8 * 1024 * 1024, ge=1024 * 1024,
                                         le=64 * 1024 * 1024)
    """Largest record a producer sends (its `max_request_size`) and a consumer fetches per
    partition. A SCIM write whose command is larger is answered 413; on Apache Kafka the
    topic's `max.message.bytes` must be at least this."""
    kafka_session_timeout_ms: int = Field(2000, ge=1000, le=300_000)
    """How long the group waits for a dead member before moving its partitions, when its
    successor cannot evict it at once (another host; see `dsync.pipeline.predecessors`).
    2 s suits the embedded broker; Apache Kafka refuses less than its
    `group.min.session.timeout.ms` (6 s by default): use 10000 there."""
    kafka_heartbeat_interval_ms: int = Field(600, ge=100, le=100_000)
    """Consumer-group heartbeat; keep it at most a third of the session timeout. Each
    heartbeat costs the broker a request: at idle the four consumer groups' heartbeats
    are most of the embedded broker's CPU."""
    kafka_commands_partitions: int = Field(16, ge=1)
    kafka_events_partitions: int = Field(16, ge=1)
    kafka_topic_prefix: str = "dsync"
    kafka_replication_factor: int = Field(1, ge=1, le=16)
    """Replication factor of the topics dsync creates (3 on a production cluster)."""
    kafka_min_insync_replicas: int | None = Field(None, ge=1, le=16)
    """`min.insync.replicas` of the topics dsync creates; unset keeps the broker default.
    With acks=all a write then needs this many replicas (2 with a replication factor of 3)."""
    kafka_embedded_broker: bool = False
    """True only for the memory-only embedded broker (`make run` and the tests set it): an
    offset that goes backwards then means the broker lost its topics, and the relay
    publishes every retained event again. On Apache Kafka a regression is logged as an
    error and counted (`dsync_outbox_offset_regressions_total`), never repaired."""
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "PLAIN"
    """Used when the protocol is SASL_PLAINTEXT or SASL_SSL."""
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""
    """PEM file of the CA that signed the brokers' certificates (empty: system CAs)."""
    kafka_ssl_certfile: str = ""
    """PEM client certificate for mutual TLS (with `kafka_ssl_keyfile`)."""
    kafka_ssl_keyfile: str = ""
    kafka_ssl_key_password: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _consistent_security(self) -> KafkaSettings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        tls = self.kafka_security_protocol.endswith("SSL")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()):
            raise ValueError("DSYNC_KAFKA_SASL_USERNAME and DSYNC_KAFKA_SASL_PASSWORD are "
                             f"required with {self.kafka_security_protocol}")
        tls_files = (self.kafka_ssl_cafile, self.kafka_ssl_certfile, self.kafka_ssl_keyfile)
        if any(tls_files) and not tls:
            raise ValueError("DSYNC_KAFKA_SSL_* files need DSYNC_KAFKA_SECURITY_PROTOCOL "
                             "SSL or SASL_SSL")
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("DSYNC_KAFKA_SSL_CERTFILE and DSYNC_KAFKA_SSL_KEYFILE go together")
        if (self.kafka_min_insync_replicas or 0) > self.kafka_replication_factor:
            raise ValueError("DSYNC_KAFKA_MIN_INSYNC_REPLICAS exceeds the replication factor")
        return self

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
    """`DSYNC_ADMIN_TOKEN` must be empty (admin API off) or at least 32 bytes; a shorter
    one stops the gateway at start (the error never shows the token)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_prefix="DSYNC_",
                                      hide_input_in_errors=True)
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    admin_token: str = ""
    write_timeout_s: float = Field(10.0, gt=0)
    """How long a SCIM write waits for the directory's outcome before answering 503."""
    retry_after_s: int = Field(2, ge=1)
    metrics_port: int = Field(0, ge=0, le=65535)

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        problem = admin_token_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class ServiceSettings(_Frozen):
    """Common to every consumer service: where to report health and metrics."""

    service_name: str = "dsync"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(0, ge=0, le=65535)
    """Port of the service's own /metrics and /healthz endpoint; 0 picks a free one."""
    metrics_sample_s: float = Field(15.0, gt=0, le=3600)
    """How often gauges read from the database and the broker are sampled (outbox backlog,
    failing operations, DLQ records, webhook deliveries)."""
    run_dir: str = ".dsync/run"
    log_level: str = "INFO"
