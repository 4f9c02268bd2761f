"""Every scim2-tester check against the running stack, as a tenant's IdP would see it.

scim2-client ships engines for httpx2/werkzeug only (neither is a dependency here), so a
small synchronous engine over `urllib` sends the requests; the checks run in a thread
because they are blocking.

Where a check is stricter than the RFC, OVERSTRICT says so with the citation, and a failure
of that check is excused only when the sole difference is what the RFC allows; anything
else it finds is still a failure of ours.
"""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any
from urllib.parse import urlencode

from scim2_client import BaseSyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

from dsync_testkit.stack import RunningStack

# (check title, resource type, attribute) -> why the comparison is wrong per the RFC.
_MEMBERS_DISPLAY = (
    "members.display is readOnly (our /Schemas; RFC 7643 §7 'readOnly'): the server fills "
    "it, as in the RFC's own Group example (RFC 7643 §8.4). scim2-tester compares the "
    "members it sent (no display) with the returned ones field by field.")
OVERSTRICT: dict[tuple[str, str | None, str], str] = {
    ("check_add_attribute", "Group", "members"): _MEMBERS_DISPLAY,
    ("check_replace_attribute", "Group", "members"): _MEMBERS_DISPLAY,
}
SERVER_SET_SUBATTRIBUTES = ("display",)

FAILED = (Status.ERROR, Status.CRITICAL)


class _Response:
    """What scim2-client reads of a response (its `RawResponse` protocol)."""

    def __init__(self, status: int, headers: Message, body: bytes) -> None:
        self.status_code = status
        self.headers = headers  # email.message.Message: case-insensitive .get()
        self.text = body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.text)


class UrllibSCIMClient(BaseSyncSCIMClient):
    """scim2-client over the standard library, with a bearer token."""

    def __init__(self, base_url: str, token: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.token = token

    def request(self, method: str, url: str, **kwargs: Any) -> _Response:
        full = url if url.startswith(("http://", "https://")) else self.base_url + url
        if kwargs.get("params"):
            full += ("&" if "?" in full else "?") + urlencode(kwargs["params"], doseq=True)
        body = json.dumps(kwargs["json"]).encode() if kwargs.get("json") is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/scim+json",
                   **({"Content-Type": "application/scim+json"} if body is not None else {}),
                   **(kwargs.get("headers") or {})}
        req = urllib.request.Request(full, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310
                return _Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return _Response(exc.code, exc.headers, exc.read())


def _without_server_set(value: Any) -> Any:
    dumped = value.model_dump() if hasattr(value, "model_dump") else value
    if isinstance(dumped, list):
        return [_without_server_set(v) for v in dumped]
    if isinstance(dumped, dict):
        return {k: v for k, v in dumped.items() if k not in SERVER_SET_SUBATTRIBUTES}
    return dumped


def excused(result: CheckResult) -> bool:
    """A failure of an OVERSTRICT check whose only difference is server-set values."""
    data = result.data if isinstance(result.data, dict) else {}
    if (result.title, result.resource_type, data.get("urn")) not in OVERSTRICT:
        return False
    actual = data.get("actual", data.get("modify_actual"))
    return bool(_without_server_set(data.get("expected")) == _without_server_set(actual))


def describe(result: CheckResult) -> str:
    data = result.data
    if isinstance(data, Exception):
        data = repr(data)
    text = f"{result.title} [{result.resource_type or '-'}] {result.status.name}: {result.reason}"
    return text + (f"\n    data: {str(data)[:600]}" if data is not None else "")


async def test_every_scim2_tester_check_passes(stack: RunningStack) -> None:
    tenant = await stack.new_tenant()
    client = UrllibSCIMClient(stack.scim_url, tenant.token)
    results = await asyncio.to_thread(check_server, client)
    assert results, "scim2-tester ran no check"
    failed = [r for r in results if r.status in FAILED and not excused(r)]
    counts = {s.name: sum(r.status is s for r in results) for s in Status}
    counts["excused"] = sum(r.status in FAILED and excused(r) for r in results)
    print(f"\nscim2-tester: {len(results)} checks, {counts}")
    assert not failed, (f"{len(failed)} of {len(results)} scim2-tester checks failed "
                        f"({counts}):\n" + "\n".join(describe(r) for r in failed))
