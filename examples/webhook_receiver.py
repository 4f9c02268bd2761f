"""A dsync webhook receiver that verifies deliveries with the Standard Webhooks library.

    pip install standardwebhooks
    python examples/webhook_receiver.py --port 9000 --secret "$WEBHOOK_SECRET"

Register `http://HOST:9000/` as the tenant's webhook with the same secret. Each verified
event is printed as one JSON line `{"id", "type", "tenantid", "sequence"}`; a request whose
signature does not verify gets 400 and is not printed. Deliveries of one endpoint come in
`sequence` order and may repeat (a redelivery): duplicates are recognised by `webhook-id`
(the event id) and acknowledged without printing. Standard library HTTP server, no
framework; `--max-events N` stops after N new events (used by the test).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


class ReceiverServer(HTTPServer):
    """The HTTP server with the receiver's state: the verifier and the ids seen."""

    def __init__(self, address: tuple[str, int], verifier: Webhook,
                 max_events: int | None) -> None:
        super().__init__(address, Handler)
        self.verifier, self.max_events = verifier, max_events
        self.seen: set[str] = set()

    @property
    def done(self) -> bool:
        return self.max_events is not None and len(self.seen) >= self.max_events


class Handler(BaseHTTPRequestHandler):
    server: ReceiverServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            # verify the raw bytes before parsing; the key is the secret's UTF-8 bytes
            event = self.server.verifier.verify(body, dict(self.headers.items()))
        except WebhookVerificationError:
            self.send_response(400)
            self.end_headers()
            return
        if event["id"] not in self.server.seen:  # webhook-id == event id: dedupe
            self.server.seen.add(event["id"])
            print(json.dumps({k: event[k] for k in ("id", "type", "tenantid", "sequence")}),
                  flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:  # quiet
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET", ""))
    parser.add_argument("--max-events", type=int)
    args = parser.parse_args()
    if not args.secret:
        parser.error("--secret or WEBHOOK_SECRET is required")
    verifier = Webhook(args.secret.encode())  # raw key: the secret as registered
    server = ReceiverServer((args.host, args.port), verifier, args.max_events)
    print(f"listening on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    while not server.done:
        server.handle_request()
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
