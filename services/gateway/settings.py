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
    public_base_url: str = ""
    """Base URL printed in `meta.location`; defaults to http://HOST:PORT."""
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
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
