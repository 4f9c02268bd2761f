"""The admin API over HTTP for the CLI: one blocking JSON call at a time (stdlib only).

`DSYNC_ADMIN_URL` (default `http://127.0.0.1:8080`) and `DSYNC_ADMIN_TOKEN` name the
gateway and the admin bearer token. The token is sent only in the Authorization header
and never printed.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(Exception):
    """The API answered an error (`status`, `error` code, `detail`), or could not be
    reached (status 0)."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status, self.error, self.detail = status, error, detail


@dataclass(frozen=True)
class AdminClient:
    base_url: str
    token: str
    timeout_s: float = 30.0

    def call(self, method: str, path: str, body: Any = None,
             query: dict[str, Any] | None = None) -> Any:
        """JSON in, JSON out (None for an empty answer). Raises ApiError."""
        params = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.base_url.rstrip("/") + path + (
            "?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310
            "Authorization": f"Bearer {self.token}", "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _api_error(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(0, "unreachable", f"{self.base_url}: {exc}") from None
        return json.loads(raw) if raw else None


def _api_error(status: int, raw: bytes) -> ApiError:
    try:
        body = json.loads(raw)
        return ApiError(status, str(body.get("error", "error")),
                        str(body.get("detail", body)))
    except (ValueError, AttributeError):
        return ApiError(status, "error", raw.decode(errors="replace")[:200])


def quote(value: str) -> str:
    """A path segment, escaped."""
    return urllib.parse.quote(value, safe="")
