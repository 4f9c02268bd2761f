"""What each `dsync` subcommand asks the admin API, and how its answer is shown.

Every handler takes the client and the parsed arguments and returns a `Shown`: the JSON
value (printed as is with `--json`) and how to show it to a person (table columns, or a
record). Handlers do no printing of their own, except the delete confirmation prompt.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dsync_services.cli.client import AdminClient, ApiError, quote

T = "/admin/v1/tenants"


@dataclass(frozen=True)
class Shown:
    value: Any
    rows_key: str | None = None
    """The list inside `value` to show as a table (None: show `value` as a record)."""
    columns: tuple[str, ...] = field(default_factory=tuple)


Handler = Callable[[AdminClient, argparse.Namespace], Shown]


def _t(args: argparse.Namespace) -> str:
    return f"{T}/{quote(args.tenant)}"


# ------------------------------------------------------------------------------ tenants
TENANT_COLUMNS = ("id", "name", "status", "created_at")


def tenants_create(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("POST", T, {"name": a.name}))


def tenants_list(c: AdminClient, a: argparse.Namespace) -> Shown:
    query: dict[str, Any] = {"name": a.name, "status": a.status, "limit": a.limit,
                             "after": a.after}
    tenants: list[Any] = []
    while True:
        page = c.call("GET", T, query=query)
        tenants += page["tenants"]
        if not a.all or not page["next_cursor"]:
            break
        query["after"] = page["next_cursor"]
    return Shown({"tenants": tenants, "next_cursor": None if a.all else page["next_cursor"]},
                 "tenants", TENANT_COLUMNS)


def tenants_show(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", _t(a)))


def tenants_disable(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("PATCH", _t(a), {"status": "disabled"}))


def tenants_enable(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("PATCH", _t(a), {"status": "active"}))


class Refused(Exception):
    """The operator did not confirm."""


def tenants_delete(c: AdminClient, a: argparse.Namespace) -> Shown:
    """Deletes after the operator typed the tenant's name (or passed --yes)."""
    tenant = c.call("GET", _t(a))
    if not a.yes:
        prompt = (f"Delete tenant {tenant['name']!r} ({tenant['id']}) and ALL its data?"
                  " Type its name to confirm: ")
        try:
            answer = input(prompt)
        except EOFError:
            answer = ""
        if answer.strip() != tenant["name"]:
            raise Refused("not confirmed; nothing was deleted (use --yes in scripts)")
    c.call("DELETE", _t(a))
    return Shown({"deleted": tenant["id"], "name": tenant["name"]})


# ------------------------------------------------------------------------------- tokens
def tokens_list(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", f"{_t(a)}/tokens"), "tokens",
                 ("id", "active", "created_at", "revoked_at"))


def tokens_create(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("POST", f"{_t(a)}/tokens"))


def tokens_revoke(c: AdminClient, a: argparse.Namespace) -> Shown:
    c.call("DELETE", f"{_t(a)}/tokens/{quote(a.token_id)}")
    return Shown({"revoked": a.token_id})


# -------------------------------------------------------------------------------- roles
def roles_list(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", f"{_t(a)}/group-roles"), "mappings", ("group_id", "roles"))


def roles_show(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", f"{_t(a)}/group-roles/{quote(a.group_id)}"))


def roles_set(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("PUT", f"{_t(a)}/group-roles/{quote(a.group_id)}",
                        {"roles": a.roles}))


def roles_unset(c: AdminClient, a: argparse.Namespace) -> Shown:
    c.call("DELETE", f"{_t(a)}/group-roles/{quote(a.group_id)}")
    return Shown({"unset": a.group_id})


def roles_access(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", f"{_t(a)}/users/{quote(a.user_id)}/access"))


# --------------------------------------------------------------------------- operations
def operations_list(c: AdminClient, a: argparse.Namespace) -> Shown:
    query = {"status": a.status, "kind": a.kind, "reason_code": a.reason_code,
             "resource_id": a.resource_id, "limit": a.limit}
    return Shown(c.call("GET", f"{_t(a)}/operations", query=query), "operations",
                 ("id", "status", "kind", "method", "path", "reason_code", "attempts",
                  "received_at"))


def operations_show(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", f"{_t(a)}/operations/{quote(a.op_id)}"))


def operations_retry(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("POST", f"{_t(a)}/operations/{quote(a.op_id)}/retry"))


# ----------------------------------------------------------------------------- webhooks
def _w(a: argparse.Namespace) -> str:
    return f"{_t(a)}/webhooks/{quote(a.webhook_id)}"


def webhooks_list(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", f"{_t(a)}/webhooks"), "webhooks",
                 ("id", "url", "status", "events", "paused_reason"))


def webhooks_create(c: AdminClient, a: argparse.Namespace) -> Shown:
    body: dict[str, Any] = {"url": a.url}
    if a.secret:
        body["secret"] = a.secret
    if a.event:
        body["events"] = a.event
    return Shown(c.call("POST", f"{_t(a)}/webhooks", body))


def webhooks_show(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", _w(a)))


def webhooks_delete(c: AdminClient, a: argparse.Namespace) -> Shown:
    c.call("DELETE", _w(a))
    return Shown({"deleted": a.webhook_id})


def webhooks_pause(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("POST", f"{_w(a)}/pause", {"reason": a.reason} if a.reason else {}))


def webhooks_resume(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("POST", f"{_w(a)}/resume", {"skip_dead": a.skip_dead}))


def webhooks_deliveries(c: AdminClient, a: argparse.Namespace) -> Shown:
    return Shown(c.call("GET", f"{_w(a)}/deliveries",
                        query={"status": a.status, "limit": a.limit}), "deliveries",
                 ("event_id", "event_type", "sequence", "status", "attempts", "last_error"))


def webhooks_redeliver(c: AdminClient, a: argparse.Namespace) -> Shown:
    if a.event_id:
        body: dict[str, Any] = {"event_id": a.event_id}
    elif a.since:
        body = {"from": a.since, **({"to": a.until} if a.until else {})}
    else:
        raise ApiError(400, "invalid_value", "give --event-id or --from")
    return Shown(c.call("POST", f"{_w(a)}/redeliver", body))
