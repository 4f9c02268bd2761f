"""Every PostgreSQL NOTIFY channel dsync uses, in one place (payloads described here)."""
from __future__ import annotations

OUTCOMES = "dsync_outcomes"
"""Payload: JSON `[[operation id, response | null], ...]` from the directory (the waiting
gateway answers), or one bare operation id (an asynchronous effect was applied)."""
OUTBOX = "dsync_outbox"
"""Payload empty: events were committed to the outbox (wakes the relay)."""
COMMANDS_WAKE = "dsync_commands_wake"
"""Payload empty: a gateway produced a command after a quiet spell (wakes paused
command consumers, see `idle`)."""
EVENTS_WAKE = "dsync_events_wake"
"""Payload empty: the relay published events after a quiet spell (wakes paused event
consumers)."""
ACCESS_WORK = "dsync_access_work"
"""Payload `<kind>`: an `accepted` asynchronous operation of that kind is waiting."""
RETRY = "dsync_retry"
"""Payload `<kind>:<operation id>`: an operator asked to retry that operation."""
WEBHOOKS = "dsync_webhooks"
"""Payload empty: deliveries are due (new, resumed or redelivered)."""
WEBHOOK_ENDPOINTS = "dsync_webhook_endpoints"
"""Payload `<tenant id>`: that tenant's webhook endpoints changed (fanout's cache)."""
TOKENS = "dsync_tokens"
"""Payload: a revoked token's id, or `tenant:<tenant id>` when a tenant was disabled,
enabled or deleted (every gateway drops the cached entries at once)."""
