"""Two shipping stations scanning the same unit at the same moment: one ships it, the other is
refused (the units' projection rows are locked before the state machine reads them)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest
from django.db import connection

from medtrace.errors import SequenceViolation

from .. import shipping
from ..models import Shipment, ShipmentItem
from ..services import shipment_create
from .factories import dist

STATIONS = 4


@pytest.mark.django_db(transaction=True)
def test_two_stations_cannot_ship_the_same_unit(monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is a PostgreSQL concern")
    d = dist()
    epcs = d.ready("RACE1")
    orders = [d.order(1) for _ in range(STATIONS)]
    start = threading.Barrier(STATIONS)
    # The worst interleaving, made certain: every station that gets to ask the state machine
    # waits (a little) for the others to have asked too before it writes. Without the row lock
    # they would all be told "in stock" and all ship; with it, the others wait for the lock
    # instead, the first one gives up waiting at the gate and ships, and they are refused.
    gate = threading.Barrier(STATIONS)
    asked = shipping.rules.refusals

    def refusals_then_wait(*args: Any, **kwargs: Any) -> Any:
        answer = asked(*args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            gate.wait(timeout=2)
        return answer

    monkeypatch.setattr(shipping.rules, "refusals", refusals_then_wait)
    shipped: list[str] = []
    refused: list[BaseException] = []
    lock = threading.Lock()

    def station(index: int) -> None:
        try:
            start.wait()
            shipment = shipment_create(order=orders[index], scans=epcs, user=d.warehouse)
            with lock:
                shipped.append(shipment.number)
        except BaseException as exc:
            with lock:
                refused.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=station, args=(i,)) for i in range(STATIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(shipped) == 1, (shipped, refused)
    assert len(refused) == STATIONS - 1
    assert all(isinstance(exc, SequenceViolation) for exc in refused), refused
    assert all("already shipped and in transit" in exc.message for exc in refused)  # type: ignore[attr-defined]
    assert Shipment.objects.count() == 1 and ShipmentItem.objects.count() == 1
