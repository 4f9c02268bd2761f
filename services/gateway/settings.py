"""Gateway settings, composed of the shared components."""
from __future__ import annotations

from pydantic import Field, field_validator

from dsync.logs import LEVELS
from dsync.settings import HttpSettings, KafkaSettings, PostgresSettings, _Frozen


class GatewayExtra(_Frozen):
    health_required_services: str = "directory,roles,sessions,fanout"
    """Consumer services that must have their partitions assigned for /healthz to be 200."""
    heartbeat_stale_s: float = Field(10.0, gt=0)
    token_cache_ttl_s: float = Field(60.0, ge=0)
    token_negative_cache_ttl_s: float = Field(5.0, ge=0, le=300)
    """How long a token that matched nothing is refused without a database query."""
    token_negative_cache_size: int = Field(10_000, ge=0, le=10_000_000)
    """At most this many unknown token hashes are remembered (oldest dropped first)."""
    public_base_url: str = ""
    """Base URL printed in `meta.location`; defaults to http://HOST:PORT."""
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    db_statement_timeout_ms: int = Field(5000, ge=0, le=3_600_000)
    """PostgreSQL `statement_timeout` of the gateway's connections (0 = none)."""
    db_acquire_timeout_s: float = Field(5.0, gt=0, le=600)
    """Longest wait for a free pooled connection before answering 503 + Retry-After."""
    log_level: str = "INFO"
    """`DSYNC_LOG_LEVEL`: DEBUG logs one line per request (method, route, status, time)."""

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LEVELS:
            raise ValueError(f"DSYNC_LOG_LEVEL must be one of {', '.join(LEVELS)}")
        return value.upper()
    shutdown_delay_s: float = Field(0.0, ge=0, le=300)
    """On SIGTERM, /readyz answers 503 this long while requests are still served, so load
    balancers stop sending new ones (Kubernetes: a few seconds)."""
    shutdown_timeout_s: float = Field(15.0, ge=0, le=600)
    """Then the listener closes and in-flight requests get this long to finish."""


class GatewaySettings:
    def __init__(self) -> None:
        self.http = HttpSettings()
        self.postgres = PostgresSettings()
        self.kafka = KafkaSettings()
        self.extra = GatewayExtra()

    @property
    def base_url(self) -> str:
        if self.extra.public_base_url:
            return self.extra.public_base_url.rstrip("/")
        return f"http://{self.http.http_host}:{self.http.http_port}"
