"""A real EPCIS subscription callback for tests: an HTTP server on 127.0.0.1 in a thread that
checks each POST the way a subscriber should (the ``GS1-Signature`` HMAC-SHA256 of the exact
body under its signatureToken) and remembers what it got."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def verify_signature(token: str, body: bytes, header: str) -> bool:
    """What a subscriber does with ``GS1-Signature``: recompute and compare in constant time."""
    expected = "sha256=" + hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


@dataclass
class Push:
    headers: Message  # case-insensitive, as HTTP header names are
    body: bytes
    verified: bool
    status: int

    @property
    def document(self) -> Any:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return str(self.headers.get("Idempotency-Key", ""))

    @property
    def event_ids(self) -> list[str]:
        events = self.document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return [e["eventID"] for e in events]


@dataclass
class Receiver:
    url: str
    token: str = ""  # the signatureToken; empty: no signature expected
    status: int = 200  # the answer to a verified request
    max_events: int | None = None  # more events per document: 413 (send smaller batches)
    pushes: list[Push] = field(default_factory=list)

    def accepted(self) -> list[Push]:
        return [p for p in self.pushes if 200 <= p.status < 300]

    def event_ids(self) -> list[str]:
        """Every event accepted, once per idempotency key (a duplicate is dropped)."""
        seen: set[str] = set()
        out: list[str] = []
        for push in self.accepted():
            if push.key not in seen:
                seen.add(push.key)
                out += push.event_ids
        return out


@contextmanager
def epcis_receiver(token: str = "") -> Iterator[Receiver]:
    """Yield a callback at http://127.0.0.1:<free port>/epcis-callback; it answers 401 when
    a token is set and the signature does not verify."""
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = not state.token or verify_signature(
                state.token, body, self.headers.get("GS1-Signature", "")
            )
            status = state.status if ok else 401
            if ok and state.max_events is not None:
                events = json.loads(body)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                if len(events) > state.max_events:
                    status = 413
            state.pushes.append(Push(self.headers, body, ok, status))
            answer = b"{}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = False
    server.block_on_close = True
    host, port = server.server_address[:2]
    state = Receiver(url=f"http://{host!s}:{port}/epcis-callback", token=token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
