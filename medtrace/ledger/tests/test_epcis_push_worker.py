"""EPCIS subscriptions with committed data: a capture still open when a subscription runs, and
a real ``medtrace worker`` process delivering a stream and a scheduled subscription.

The data here is committed (``transactional_db``): other connections (a thread, the worker
process) must see it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection, transaction

from medtrace.alerts import outbox
from medtrace.ledger import epcis_push
from medtrace.ledger import epcis_query_subscriptions as subs
from medtrace.ledger.epcis_query_subscriptions import named_query_create, subscription_create
from medtrace.ledger.models_queries import NamedQuery

from .epcis_receiver import epcis_receiver
from .test_epcis_push import SHIPPING_ONLY, eid, ship
from .test_epcis_query_support import capture

pytestmark = pytest.mark.django_db(transaction=True)

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def _no_wake_up_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    # The process remembers the stream run it queued last; this test's database has none.
    monkeypatch.setattr(epcis_push, "_queued_run_at", None)


@pytest.fixture
def shipped(qa_manager: Any) -> NamedQuery:
    return named_query_create(data={"name": "shipped", "query": SHIPPING_ONLY}, user=qa_manager)


def test_a_capture_still_open_when_a_subscription_runs_is_delivered_after_it_commits(
    shipped: NamedQuery, qa_manager: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    monkeypatch.setattr(subs, "SUBSCRIPTION_SETTLE", timedelta(0))
    # Tasks wait in the database (no worker here): the test runs each step itself.
    settings.TASKS = DATABASE_TASKS
    written, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def open_capture() -> None:
        # Records ship(2), then keeps its transaction open until released.
        try:
            with transaction.atomic():
                capture(ship(2), user=qa_manager)
                written.set()
                release.wait(20)
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)
            written.set()
        finally:
            connection.close()

    with epcis_receiver() as receiver:
        subscription_create(query=shipped, data={"dest": receiver.url, "stream": True}, user=None)
        capture(ship(1), user=qa_manager)
        writer = threading.Thread(target=open_capture)
        writer.start()
        assert written.wait(20) and not failure, failure
        if connection.vendor == "postgresql":
            # A run now sends ship(1) only, and stays before the open capture: moving up to
            # "now" would pass ship(2)'s recordTime before ship(2) is even visible.
            assert epcis_push.push_due() == {epcis_push.SENT: 1}
            release.set()
        else:
            # SQLite: the run waits for the open capture's write lock, then sees its event.
            threading.Timer(0.5, release.set).start()
            assert epcis_push.push_due() == {epcis_push.SENT: 1}
        writer.join(20)
        assert not failure, failure
        outbox.dispatch_due()
        epcis_push.push_due()
        outbox.dispatch_due()

    assert receiver.event_ids() == [eid(1), eid(2)]


# -- a real worker --------------------------------------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(str(db['NAME'])).resolve()}"
    host = quote(str(db.get("HOST") or "/var/run/postgresql"), safe="")
    user = f"{quote(str(db['USER']))}@" if db.get("USER") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{user}{host}{port}/{db['NAME']}"


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def test_the_worker_pushes_a_stream_soon_after_capture_and_a_schedule_at_its_time(
    shipped: NamedQuery, qa_manager: Any, settings: Any
) -> None:
    settings.TASKS = DATABASE_TASKS
    with epcis_receiver() as receiver:
        every_second = {"second": "[0-59]"}
        scheduled = subscription_create(
            query=shipped,
            data={"dest": f"{receiver.url}?s", "schedule": every_second, "reportIfEmpty": True},
            user=qa_manager,
        )
        stream = subscription_create(
            query=shipped, data={"dest": f"{receiver.url}?t", "stream": True}, user=qa_manager
        )
        env = {
            **os.environ,
            "MEDTRACE_DATABASE_URL": _database_url(),
            "MEDTRACE_TASKS_BACKEND": "database",
            "MEDTRACE_FIELD_KEY": base64.urlsafe_b64encode(settings.FIELD_KEY).decode(),
            "MEDTRACE_DEBUG": "1",
            # A slow sweep: only the first one (at start) runs within this test, so the
            # stream push below can only come from the wake-up after the capture.
            "MEDTRACE_WORKER_SWEEP_SECONDS": "120",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "medtrace.cli", "worker", "--interval", "0.2",
             "--no-startup-delay"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:

            def documents_for(subscription: Any) -> list[Any]:
                return [
                    p.document
                    for p in receiver.accepted()
                    if p.document["epcisBody"]["queryResults"]["subscriptionID"]
                    == str(subscription.pk)
                ]

            # The sweep at start: the schedule is due; nothing new, so an empty report.
            _wait(lambda: bool(documents_for(scheduled)), 60, "the scheduled empty report")
            assert receiver.event_ids() == []

            capture(ship(1), user=qa_manager)  # commits: wakes the stream delivery
            took = _wait(lambda: bool(documents_for(stream)), 30, "the stream push")
        finally:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()

    assert took < 15  # the settle margin and a poll, not the 120 s sweep
    assert [e["eventID"] for d in documents_for(stream) for e in d["epcisBody"]["queryResults"][
        "resultsBody"]["eventList"]] == [eid(1)]  # fmt: skip
    assert len(documents_for(scheduled)) == 1
