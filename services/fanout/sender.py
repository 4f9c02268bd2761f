"""One webhook attempt over HTTP: signed POST, bounded in time and in what is read back.

`Sender.send` never raises for anything the receiver or the network does: it returns an
`AttemptResult` whose `outcome` is one of `ok` (2xx), `http_status` (any other status;
redirects are never followed), `timeout`, `connection_error`, `ssrf_refused` (the host is,
or now resolves to, a refused address). At most `max_response_bytes` of the answer are read.
"""
from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from types import TracebackType

import aiohttp

from dsync_services.fanout.settings import WebhookSettings
from dsync_services.fanout.url_safety import (
    SafeResolver,
    TargetPolicy,
    UnsafeTarget,
    check_literal,
    validate_url,
)

USER_AGENT = "dsync-webhooks/1"


@dataclass(frozen=True)
class AttemptResult:
    outcome: str
    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def _refused(exc: BaseException) -> UnsafeTarget | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, UnsafeTarget):
            return seen
        if isinstance(seen, aiohttp.ClientConnectorError) and \
                isinstance(seen.os_error, UnsafeTarget):
            return seen.os_error
        seen = seen.__cause__
    return None


class Sender:
    """An HTTP client for webhook attempts; use as `async with Sender(settings) as s:`."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.policy = TargetPolicy(settings.webhook_allow_loopback,
                                   settings.webhook_allow_private)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Sender:
        connector = aiohttp.TCPConnector(resolver=SafeResolver(self.policy),
                                         limit=self.settings.webhook_concurrency * 2,
                                         ttl_dns_cache=10)
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                              auto_decompress=False)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
        """POST `body` to `url` once. Bounded by `webhook_timeout_s`; never raises."""
        assert self._session is not None, "use Sender as an async context manager"
        started = time.perf_counter()

        def result(outcome: str, status: int | None, error: str | None) -> AttemptResult:
            return AttemptResult(outcome, status, (time.perf_counter() - started) * 1000,
                                 storable(error))

        s = self.settings
        timeout = aiohttp.ClientTimeout(total=s.webhook_timeout_s,
                                        connect=min(s.webhook_connect_timeout_s,
                                                    s.webhook_timeout_s))
        try:
            check_literal(validate_url(url).hostname or "", self.policy)
            async with asyncio.timeout(s.webhook_timeout_s + 1.0), self._session.post(
                    url, data=body, allow_redirects=False, timeout=timeout,
                    headers={"Content-Type": "application/json", "User-Agent": USER_AGENT,
                             **headers}) as resp:
                snippet = await _read_capped(resp, s.webhook_max_response_bytes)
                if 200 <= resp.status < 300:
                    return result("ok", resp.status, None)
                text = snippet[:200].decode("utf-8", "replace").strip()
                hint = " (redirects are not followed)" if 300 <= resp.status < 400 else ""
                return result("http_status", resp.status,
                              f"HTTP {resp.status}{hint}" + (f": {text}" if text else ""))
        except (TimeoutError, aiohttp.ServerTimeoutError):
            return result("timeout", None, f"no answer within {s.webhook_timeout_s:g}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            refused = _refused(exc)
            if refused is not None:
                return result("ssrf_refused", None, str(refused))
            return result("connection_error", None,
                          f"{type(exc).__name__}: {exc}"[:300])


_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def storable(text: str | None, limit: int = 300) -> str | None:
    """`text` (a receiver's words or an exception's) made safe to store and show: NUL, other
    control characters and lone surrogates become `?`, and at most `limit` characters."""
    if text is None:
        return None
    return _UNSTORABLE.sub("?", text[:limit])


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """Up to `cap` bytes of the body; when more is coming, drop the connection instead."""
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await resp.content.read(cap - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    if not resp.content.at_eof():
        resp.close()
    return b"".join(chunks)
