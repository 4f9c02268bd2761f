"""The IdP side of the bench: tenants, Okta-shaped SCIM request bodies, one HTTP call.

Bodies have the shapes Okta's OIN SCIM 2.0 client sends: a user with a name, a primary
work email equal to its userName, a locale, an `00u…` externalId and `active: true`; a
PATCH that deactivates with a path-less replace (`{"op": "replace", "value": {"active":
false}}`); a PATCH that adds members with their display names. The outcome of one request
is "ok", "http_<status>" (non-2xx), "wrong:<what>" (2xx but a wrong answer) or the name of
a transport exception ("timeout", "ClientConnectionError", ...).
"""
from __future__ import annotations

import asyncio
import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

import aiohttp

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
HEADERS = {"Content-Type": "application/scim+json; charset=utf-8",
           "Accept": "application/scim+json",
           "User-Agent": "Okta SCIM Client 1.0.0 (dsync bench)"}
FIRST = ("Amara", "Bjorn", "Chiara", "Dmitri", "Esme", "Farid", "Greta", "Hiro", "Ines",
         "Jonas", "Kaia", "Luca", "Mira", "Nils", "Oona", "Priya", "Rafael", "Saoirse")
LAST = ("Abara", "Brandt", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo", "Haddad",
        "Ito", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov")


@dataclass(frozen=True)
class User:
    id: str
    user_name: str


@dataclass
class Tenant:
    name: str
    token: str
    users: list[User] = field(default_factory=list)  # every user the bench created in it

    @property
    def headers(self) -> dict[str, str]:
        return {**HEADERS, "Authorization": f"Bearer {self.token}"}


class Bodies:
    """Request bodies; userNames are unique per bench run (run_id plus a counter)."""

    def __init__(self, run_id: str, rng: random.Random) -> None:
        self.run_id = run_id
        self.rng = rng
        self.counter = 0

    def user(self) -> dict[str, Any]:
        self.counter += 1
        given, family = self.rng.choice(FIRST), self.rng.choice(LAST)
        email = f"{given.lower()}.{family.lower()}.{self.run_id}.{self.counter}@example.com"
        return {"schemas": [USER_SCHEMA], "userName": email,
                "name": {"givenName": given, "familyName": family},
                "emails": [{"primary": True, "value": email, "type": "work"}],
                "displayName": f"{given} {family}", "locale": "en-US",
                "externalId": "00u" + "".join(self.rng.choices(string.ascii_letters
                                                               + string.digits, k=17)),
                "groups": [], "active": True}

    def group(self, label: str) -> dict[str, Any]:
        self.counter += 1
        return {"schemas": [GROUP_SCHEMA], "displayName": f"{label}-{self.run_id}-{self.counter}",
                "members": []}

    @staticmethod
    def deactivate() -> dict[str, Any]:
        return {"schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "replace", "value": {"active": False}}]}

    @staticmethod
    def add_members(users: list[User]) -> dict[str, Any]:
        return {"schemas": [PATCH_SCHEMA], "Operations": [{
            "op": "add", "path": "members",
            "value": [{"value": u.id, "display": u.user_name} for u in users]}]}


def outcome_of(status: int) -> str:
    return "ok" if 200 <= status < 300 else f"http_{status}"


def outcome_of_exception(exc: BaseException) -> str:
    return "timeout" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__


class ScimClient:
    """SCIM calls against one base URL (…/scim/v2) over a shared aiohttp session."""

    def __init__(self, session: aiohttp.ClientSession, base: str, timeout_s: float) -> None:
        self.session = session
        self.base = base.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def call(self, tenant: Tenant, method: str, path: str, body: Any = None,
                   parse: bool = True) -> tuple[int, Any]:
        """One request; the answer is read in full, and parsed as JSON if `parse`."""
        data = None if body is None else json.dumps(body)
        async with self.session.request(method, self.base + path, data=data,
                                        headers=tenant.headers, timeout=self.timeout) as r:
            raw = await r.read()
            if not parse or not raw:
                return r.status, None
            try:
                return r.status, json.loads(raw)
            except ValueError:
                return r.status, raw[:200].decode(errors="replace")

    async def create_user(self, tenant: Tenant, body: dict[str, Any]
                          ) -> tuple[str, User | None]:
        """POST /Users; on success the new user is also appended to tenant.users."""
        status, data = await self.call(tenant, "POST", "/Users", body)
        if not 200 <= status < 300:
            return outcome_of(status), None
        if not isinstance(data, dict) or not data.get("id"):
            return "wrong:no_id_in_answer", None
        user = User(data["id"], body["userName"])
        tenant.users.append(user)
        return "ok", user

    async def create_group(self, tenant: Tenant, body: dict[str, Any]) -> str:
        """POST /Groups; the new group's id (RuntimeError if it was not created)."""
        status, data = await self.call(tenant, "POST", "/Groups", body)
        if 200 <= status < 300 and isinstance(data, dict) and data.get("id"):
            return str(data["id"])
        raise RuntimeError(f"POST /Groups answered {status}: {str(data)[:300]}")
