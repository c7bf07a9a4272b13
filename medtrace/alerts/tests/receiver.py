"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread that verifies each
request the way a partner's system should (``webhooks.verify``) and remembers what it got."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from medtrace.alerts import webhooks


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    secrets: list[str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    status: int = 200  # what a verified request gets
    delay: float = 0.0  # seconds before answering (a slow receiver)
    seen_keys: set[str] = field(default_factory=set)

    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.verified]


@contextmanager
def webhook_receiver(*secrets: str) -> Iterator[Receiver]:
    """Yield a receiver at http://127.0.0.1:<free port>/hook that answers 401 to a request whose
    signature or timestamp does not verify under one of ``secrets``."""
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            ok = webhooks.verify(
                state.secrets,
                self.headers.get(webhooks.TIMESTAMP_HEADER, ""),
                body,
                self.headers.get(webhooks.SIGNATURE_HEADER, ""),
            )
            state.requests.append(Received(self.path, dict(self.headers.items()), body, ok))
            if state.delay:
                time.sleep(state.delay)
            status = state.status if ok else 401
            answer = b"ok" if ok else b"bad signature or stale timestamp"
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the sender gave up waiting (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # Handler threads are joined on close: none outlives the test.
    server.daemon_threads = False
    server.block_on_close = True
    host, port = server.server_address[:2]
    state = Receiver(url=f"http://{host!s}:{port}/hook", secrets=list(secrets))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
