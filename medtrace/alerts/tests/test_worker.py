"""``medtrace worker``: a real worker process, killed mid-dispatch and restarted.

The worker runs as a subprocess on the test database (so the data here is committed:
``transactional_db``), with the django-tasks database backend, a short lease and a fast sweep.
A webhook receiver holds its answer to one request while the test kills the worker with SIGKILL:
the worker dies mid-dispatch, with the request sent and no answer recorded. After a restart,
every message arrives, and the one interrupted arrives twice with the same idempotency key.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from medtrace.alerts import outbox, webhooks
from medtrace.alerts.models import OutboxAttempt, OutboxMessage, OutboxStatus, WebhookSubscription

pytestmark = pytest.mark.django_db(transaction=True)

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


class HoldingReceiver:
    """Verifies each request, records its idempotency key, and holds the answer to the
    ``hold_nth`` request until ``release`` (so the sender is stuck mid-request)."""

    def __init__(self, secret: str, hold_nth: int) -> None:
        self.secret = secret
        self.hold_nth = hold_nth
        self.keys: list[str] = []
        self.verified: list[bool] = []
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()


@contextmanager
def holding_receiver(secret: str, hold_nth: int) -> Iterator[tuple[HoldingReceiver, str]]:
    state = HoldingReceiver(secret, hold_nth)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = webhooks.verify(
                state.secret,
                self.headers.get(webhooks.TIMESTAMP_HEADER, ""),
                body,
                self.headers.get(webhooks.SIGNATURE_HEADER, ""),
            )
            with state.lock:
                state.keys.append(self.headers.get(webhooks.IDEMPOTENCY_HEADER, ""))
                state.verified.append(ok)
                nth = len(state.keys)
            if nth == state.hold_nth:
                state.held.set()
                state.release.wait(30)
            try:
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the worker died waiting

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield state, f"http://{host!s}:{port}/hook"
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if "mode=memory" in name or name == ":memory:":
            pytest.fail("the worker test needs a file SQLite test database (see conftest.py)")
        return f"sqlite:///{Path(name).resolve()}"
    host = quote(str(db.get("HOST") or "/var/run/postgresql"), safe="")
    user = f"{quote(str(db['USER']))}@" if db.get("USER") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{user}{host}{port}/{db['NAME']}"


def _start_worker() -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MEDTRACE_DATABASE_URL": _database_url(),
        "MEDTRACE_TASKS_BACKEND": "database",
        "MEDTRACE_FIELD_KEY": base64.urlsafe_b64encode(settings.FIELD_KEY).decode(),
        "MEDTRACE_DEBUG": "1",
        "MEDTRACE_OUTBOX_LEASE_SECONDS": "3",
        "MEDTRACE_WORKER_SWEEP_SECONDS": "1",
        "MEDTRACE_WEBHOOK_TIMEOUT": "20",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "medtrace.cli", "worker", "--interval", "0.2", "--no-startup-delay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def test_a_worker_killed_mid_dispatch_loses_nothing_and_duplicates_carry_their_key(
    settings: Any,
) -> None:
    settings.TASKS = DATABASE_TASKS
    secret = webhooks.new_secret()
    with holding_receiver(secret, hold_nth=3) as (receiver, url):
        WebhookSubscription.objects.create(
            url=url, secret=secret, event_types=["*"], system_name="WMS"
        )
        messages = [
            outbox.publish("shipment.shipped", {"shipment": f"SH-{n}"})[0] for n in range(5)
        ]
        keys = {m.key for m in messages}

        worker = _start_worker()
        try:
            # The worker sends two, then sends the third and waits for the held answer.
            _wait(receiver.held.is_set, 60, "the worker to reach the third message")
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        receiver.release.set()

        interrupted = OutboxMessage.objects.get(key=receiver.keys[2])
        assert interrupted.status == OutboxStatus.PENDING and interrupted.lease_until is not None
        unfinished = OutboxAttempt.objects.get(message=interrupted, number=1)
        assert unfinished.finished_at is None  # the dead worker never recorded an end
        assert OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED).count() == 2

        restarted = _start_worker()
        try:
            _wait(
                lambda: OutboxMessage.objects.filter(status=OutboxStatus.DELIVERED).count() == 5,
                60,
                "every message to be delivered after the restart",
            )
        finally:
            restarted.send_signal(signal.SIGTERM)
            try:
                restarted.wait(15)
            except subprocess.TimeoutExpired:
                restarted.kill()

    assert all(receiver.verified)
    assert set(receiver.keys) == keys  # every notification arrived
    duplicates = {k for k in receiver.keys if receiver.keys.count(k) > 1}
    assert duplicates == {interrupted.key}  # the only duplicate is the interrupted one
    interrupted.refresh_from_db()
    assert interrupted.attempts == 2
    log = list(OutboxAttempt.objects.filter(message=interrupted).order_by("number"))
    assert log[0].finished_at is None and log[1].ok is True
    assert log[0].worker_id != log[1].worker_id
