"""`dsync`: the command line of the admin API (docs/cli.md).

    dsync [--json] [--url URL] <group> <command> [args]

Reads `DSYNC_ADMIN_URL` and `DSYNC_ADMIN_TOKEN`. Prints tables for people and, with
`--json`, the API's JSON for scripts. Exit status: 0 done, 1 the API refused or could not
be reached (the error on stderr), 2 bad usage or a deletion not confirmed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from dsync_services.cli import commands as c
from dsync_services.cli.client import DEFAULT_URL, AdminClient, ApiError
from dsync_services.cli.events_tail import tail
from dsync_services.cli.output import as_json, record, table


def _sub(parent: Any, name: str, handler: c.Handler, help_text: str,
         *positionals: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = parent.add_parser(name, help=help_text,
                                                        description=help_text)
    for positional in positionals:
        parser.add_argument(positional)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="dsync", description=__doc__.splitlines()[0])
    root.add_argument("--json", action="store_true", help="print the API's JSON")
    root.add_argument("--url", default=os.environ.get("DSYNC_ADMIN_URL", DEFAULT_URL),
                      help="gateway base URL (DSYNC_ADMIN_URL)")
    groups = root.add_subparsers(dest="group", required=True)

    tenants = groups.add_parser("tenants", help="tenants").add_subparsers(required=True)
    _sub(tenants, "create", c.tenants_create, "create a tenant and its first SCIM token", "name")
    listing = _sub(tenants, "list", c.tenants_list, "list tenants")
    listing.add_argument("--name", help="name contains (case-insensitive)")
    listing.add_argument("--status", choices=["active", "disabled"])
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--after", help="the cursor a previous page printed")
    listing.add_argument("--all", action="store_true", help="follow every page")
    _sub(tenants, "show", c.tenants_show, "show a tenant", "tenant")
    _sub(tenants, "disable", c.tenants_disable, "disable a tenant (SCIM 403, data kept)",
         "tenant")
    _sub(tenants, "enable", c.tenants_enable, "enable a disabled tenant", "tenant")
    delete = _sub(tenants, "delete", c.tenants_delete,
                  "delete a disabled tenant and ALL its data (asks for its name)", "tenant")
    delete.add_argument("--yes", action="store_true", help="do not ask (scripts)")

    tokens = groups.add_parser("tokens", help="SCIM tokens").add_subparsers(required=True)
    _sub(tokens, "list", c.tokens_list, "list token ids (never secrets)", "tenant")
    _sub(tokens, "create", c.tokens_create, "create a further token (shown once)", "tenant")
    _sub(tokens, "revoke", c.tokens_revoke, "revoke a token", "tenant", "token_id")

    roles = groups.add_parser("roles", help="group roles").add_subparsers(required=True)
    _sub(roles, "list", c.roles_list, "list group-role mappings", "tenant")
    _sub(roles, "show", c.roles_show, "show a group's roles", "tenant", "group_id")
    setter = _sub(roles, "set", c.roles_set, "set the roles of a group's members", "tenant",
                  "group_id")
    setter.add_argument("roles", nargs="*")
    _sub(roles, "unset", c.roles_unset, "remove a group's mapping", "tenant", "group_id")
    _sub(roles, "access", c.roles_access, "a user's effective access", "tenant", "user_id")

    ops = groups.add_parser("operations", help="the ledger").add_subparsers(required=True)
    op_list = _sub(ops, "list", c.operations_list, "list operations, newest first", "tenant")
    op_list.add_argument("--status", choices=["accepted", "applied", "rejected", "failed",
                                              "dead"])
    op_list.add_argument("--kind")
    op_list.add_argument("--reason-code")
    op_list.add_argument("--resource-id")
    op_list.add_argument("--limit", type=int, default=100)
    _sub(ops, "show", c.operations_show, "show an operation", "tenant", "op_id")
    _sub(ops, "retry", c.operations_retry, "retry a failed, retryable operation", "tenant",
         "op_id")

    hooks = groups.add_parser("webhooks", help="webhooks and deliveries").add_subparsers(
        required=True)
    _sub(hooks, "list", c.webhooks_list, "list endpoints", "tenant")
    create = _sub(hooks, "create", c.webhooks_create, "register an endpoint", "tenant", "url")
    create.add_argument("--secret", help="signing secret (generated and shown once if absent)")
    create.add_argument("--event", action="append", help="event type or family (repeat)")
    _sub(hooks, "show", c.webhooks_show, "show an endpoint and its queue", "tenant",
         "webhook_id")
    _sub(hooks, "delete", c.webhooks_delete, "delete an endpoint", "tenant", "webhook_id")
    pause = _sub(hooks, "pause", c.webhooks_pause, "pause deliveries", "tenant", "webhook_id")
    pause.add_argument("--reason")
    resume = _sub(hooks, "resume", c.webhooks_resume, "resume deliveries", "tenant",
                  "webhook_id")
    resume.add_argument("--skip-dead", action="store_true")
    deliveries = _sub(hooks, "deliveries", c.webhooks_deliveries, "list deliveries", "tenant",
                      "webhook_id")
    deliveries.add_argument("--status", choices=["pending", "retrying", "delivered", "dead",
                                                 "skipped"])
    deliveries.add_argument("--limit", type=int, default=100)
    redeliver = _sub(hooks, "redeliver", c.webhooks_redeliver, "send events again",
                     "tenant", "webhook_id")
    redeliver.add_argument("--event-id")
    redeliver.add_argument("--from", dest="since", help="ISO time")
    redeliver.add_argument("--to", dest="until", help="ISO time")

    dlq = groups.add_parser("dlq", help="dead-lettered commands (reads Kafka directly)")
    dlq.add_argument("dlq_args", nargs=argparse.REMAINDER,
                     help="list [--limit N] | replay --offset N [--offset M ...] | --all")

    events = groups.add_parser("events", help="events (reads Kafka directly)").add_subparsers(
        required=True)
    tail_cmd = events.add_parser("tail", help="a tenant's events, oldest retained first")
    tail_cmd.add_argument("tenant")
    tail_cmd.add_argument("--follow", "-f", action="store_true", help="wait for new events")
    tail_cmd.add_argument("--limit", type=int, help="stop after this many events")
    return root


def _show(shown: c.Shown, as_json_output: bool) -> str:
    if as_json_output:
        return as_json(shown.value)
    if shown.rows_key is not None:
        text = table(shown.value[shown.rows_key], shown.columns)
        cursor = shown.value.get("next_cursor")
        return text + (f"\n(more: --after {cursor}, or --all)" if cursor else "")
    return record(shown.value)


def _events(args: argparse.Namespace) -> int:
    def emit(event: dict[str, Any]) -> None:
        if args.json:
            print(json.dumps(event, ensure_ascii=False), flush=True)
        else:
            print(f"{event.get('sequence', '?'):>6}  {event.get('time', '')}  "
                  f"{event.get('type', ''):<22} {event.get('subject', '')}", flush=True)
    try:
        asyncio.run(tail(args.tenant, emit, follow=args.follow, limit=args.limit))
    except KeyboardInterrupt:
        pass
    return 0


def _dlq(args: argparse.Namespace) -> int:
    return subprocess.call([sys.executable, "-m", "dsync_services.directory.dlq_tool",  # noqa: S603
                            *(args.dlq_args or ["list"])])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.group == "events":
        return _events(args)
    if args.group == "dlq":
        return _dlq(args)
    token = os.environ.get("DSYNC_ADMIN_TOKEN", "")
    if not token:
        print("error: set DSYNC_ADMIN_TOKEN to the admin token", file=sys.stderr)
        return 2
    client = AdminClient(args.url, token)
    try:
        shown = args.handler(client, args)
    except c.Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(_show(shown, args.json))
    return 0
