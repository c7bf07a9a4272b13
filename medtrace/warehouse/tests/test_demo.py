"""The warehouse demo story runs on the master-data demo with released units, once."""

from __future__ import annotations

import pytest

from medtrace.accounts.models import User
from medtrace.alerts.models import Alert
from medtrace.ledger.models import UnitState
from medtrace.lifecycle import events as ev
from medtrace.lifecycle.selectors import contents
from medtrace.masterdata.demo import data
from medtrace.masterdata.demo.load import load_demo as load_masterdata
from medtrace.masterdata.models import Location, Product
from medtrace.quality import services as quality
from medtrace.warehouse import demo
from medtrace.warehouse.models import Container, PickList, StockCount, StockMove


@pytest.mark.django_db
def test_the_demo_packs_puts_away_into_a01_and_leaves_a_count_with_one_discrepancy() -> None:
    load_masterdata(log=lambda _line: None, lifecycle=False)
    demo.load_demo(log=lambda _line: None)  # no released units yet: nothing happens
    assert not Container.objects.exists()
    line = Location.objects.get(code="SZ-L1")
    pump = Product.objects.get(model="IP-300")
    units = [ev.unit_epc(pump, f"WHD{n:03d}") for n in range(1, 11)]
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=units,
                biz_step="commissioning",
                disposition="active",
                read_point=line.sgln,
                biz_location=line.sgln,
            )
        ],
        user=None,
    )
    qa = User.objects.get(username="qa")
    quality.release_create(targets=units, user=qa, password=data.DEMO_PASSWORD)

    lines: list[str] = []
    demo.load_demo(log=lines.append)

    a01 = Location.objects.get(code=demo.BIN)
    pallet = Container.objects.get(level="pallet")
    assert Container.objects.filter(level="case", status="closed").count() == 3  # 4 + 4 + 1
    inside = contents([pallet.epc])[pallet.epc]
    assert len([e for e in inside if e in units]) == 9
    assert set(UnitState.objects.filter(epc__in=units).values_list("biz_location", flat=True)) == {
        a01.sgln
    }
    move = StockMove.objects.get()
    assert move.to_location == a01
    count = StockCount.objects.get()
    assert (count.status, count.missing, count.unexpected) == ("reconciled", 1, 0)
    assert count.matched == 13  # pallet, 3 cases, 9 units
    assert Alert.objects.filter(kind="stock_count_discrepancy").count() == 1
    assert PickList.objects.filter(status="open").count() == 1
    assert "1 missing" in lines[-1]

    demo.load_demo(log=lines.append)  # idempotent
    assert StockCount.objects.count() == 1 and Container.objects.count() == 4
