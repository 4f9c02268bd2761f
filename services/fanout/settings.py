"""Webhook delivery settings (`DSYNC_WEBHOOK_*`), read once at start, validated, frozen.

The gateway reads the same class for the registration-time URL checks, so both sides of
the SSRF policy always agree.
"""
from __future__ import annotations

from pydantic import Field

from dsync.settings import _Frozen


class WebhookSettings(_Frozen):
    webhook_allow_loopback: bool = False
    """Allow targets on loopback addresses (127.0.0.0/8, ::1, `localhost`): development only."""
    webhook_allow_private: bool = False
    """Allow targets in private ranges (RFC 1918, CGNAT, fc00::/7). Never link-local/metadata."""
    webhook_max_attempts: int = Field(10, ge=1, le=100)
    """Attempts per delivery before it is `dead` and its endpoint is paused."""
    webhook_timeout_s: float = Field(10.0, gt=0, le=60)
    """Bound on one attempt: DNS + connect + request + reading the (capped) response."""
    webhook_connect_timeout_s: float = Field(5.0, gt=0, le=60)
    webhook_backoff_base_s: float = Field(1.0, gt=0)
    webhook_backoff_cap_s: float = Field(600.0, gt=0)
    webhook_max_response_bytes: int = Field(64 * 1024, ge=0, le=1024 * 1024)
    """At most this much of a receiver's answer is read; the rest is dropped unread."""
    webhook_concurrency: int = Field(64, ge=1, le=10_000)
    """Endpoint queues one fanout process delivers concurrently (one attempt in flight each)."""
    webhook_batch: int = Field(50, ge=1, le=1000)
    """Deliveries of one queue fetched per round trip to the database."""
    webhook_poll_interval_s: float = Field(5.0, gt=0)
    """Fallback poll when no NOTIFY arrives (due retries are also woken on time)."""
    webhook_rotation_overlap_s: float = Field(86_400.0, ge=0)
    """How long the previous secret keeps signing after `rotate-secret` (default 24 h)."""
    webhook_retention_s: float = Field(7 * 86_400.0, gt=0)
    """Delivered deliveries and attempt logs older than this are deleted."""
    webhook_cleanup_interval_s: float = Field(300.0, gt=0)
    webhook_max_per_tenant: int = Field(50, ge=1)
