"""Legacy serial histories into the ledger: events, unit state, timeline, the import marker."""

from __future__ import annotations

from typing import Any

import pytest

from medtrace.audit.models import AuditEntry
from medtrace.imports.history import BTT_IMPORT
from medtrace.imports.tests.factories import csv_bytes, errors_by_row, file_of, run
from medtrace.ledger.models import CaptureJob, Event, EventBizTransaction, UnitState
from medtrace.lib import udi
from medtrace.masterdata.tests import factories as md
from medtrace.trace.selectors import unit_timeline
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db
HEADER = ["di", "serial", "lot", "event", "event_time", "location", "party", "document"]


@pytest.fixture
def w() -> f.World:
    return f.world()


def _life(w: f.World, serial: str, *, lot: str = "L2019-01") -> list[list[Any]]:
    g, s, dist, hosp = w.gtin(w.device), serial, w.distributor.gln, w.hospital.gln
    return [
        [g, s, lot, "produced", "2019-05-06T08:00:00", w.plant.gln, "", "WO-19-7"],
        [g, s, "", "shipped", "2019-06-01 10:00", w.warehouse.code, dist, "DN-88"],
        [g, s, "", "received", "2019-06-03 09:00", w.dist_site.sgln, "", "DN-88"],
        [g, s, "", "shipped", "2019-07-01 10:00", w.dist_site.sgln, hosp, "DN-D12"],
        [g, s, "", "received", "2019-07-02 11:00", w.ward.gln, "", ""],
        [g, s, "", "installed", "2019-07-05 14:00", w.ward.gln, hosp, "INST-5"],
        [g, s, "", "serviced", "2021-03-01 09:30+08:00", w.ward.gln, "", "SR-301"],
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_legacy_history_lands_in_the_ledger_as_marked_events(
    fmt: str, w: f.World, qa_manager
) -> None:
    rows = _life(w, "SN-1") + _life(w, "SN-2")
    name, content = file_of(fmt, HEADER, rows)

    job = run("history", content, name=name, user=qa_manager)

    assert job.status == "imported", job.errors
    # The two units travelled together: one event per step, with both EPCs.
    assert job.summary == {"units": 2, "events": 7, "rows": 14, "blank_rows": 0}
    events = list(Event.objects.order_by("event_time"))
    assert [e.biz_step for e in events] == [
        "commissioning", "shipping", "receiving", "shipping", "receiving", "installing",
        "urn:medtrace:bizstep:maintaining",
    ]  # fmt: skip
    sn1, sn2 = w.device_sn("SN-1"), w.device_sn("SN-2")
    assert all(e.document["epcList"] == [sn1, sn2] for e in events)
    made = events[0].document
    assert made["action"] == "ADD" and made["ilmd"] == {"cbvmda:lotNumber": "L2019-01"}
    assert made["eventTime"] == "2019-05-06T00:00:00.000Z"  # the server's zone: Beijing
    assert made["medtrace:legacyImport"] == {"job": job.pk, "rows": [2, 9]}
    assert {"medtrace": "urn:medtrace:ns:"} in made["@context"]
    marked = EventBizTransaction.objects.filter(
        type=BTT_IMPORT, value=f"urn:medtrace:import:{job.pk}"
    )
    assert marked.count() == 7
    docs = set(EventBizTransaction.objects.exclude(type=BTT_IMPORT).values_list("type", "value"))
    assert ("desadv", "urn:epcglobal:cbv:bt:6901234000009:DN-88") in docs
    # Everything went through capture: a capture job, sealed in the audit chain.
    assert job.capture_jobs == [str(CaptureJob.objects.get().pk)]
    assert AuditEntry.objects.filter(object_type="ledger.capturejob", action="capture").count() == 1
    assert AuditEntry.objects.get(object_type="imports.importjob").changes["summary"]["units"] == 2

    state = UnitState.objects.get(epc=sn1)
    assert (state.product, state.serial, state.lot) == (w.device, "SN-1", "L2019-01")
    assert state.disposition == "active" and state.biz_location == w.ward.sgln
    assert state.owning_party == w.pgln(w.hospital)

    timeline = unit_timeline(id=sn1, user=None)
    assert [e["phase"] for e in timeline["events"]] == [
        "production", "distribution", "distribution", "distribution", "distribution", "use",
        "service",
    ]  # fmt: skip


def test_units_named_by_udi_and_scrapped(w: f.World) -> None:
    gtin = w.gtin(w.device)
    header = ["udi", "event", "event_time", "location", "party", "expiry"]
    rows = [
        [f"(01){gtin}(21)U-1(10)LX", "produced", "2020-01-01T08:00:00Z", w.plant.gln, "", ""],
        [f"(01){gtin}(21)U-1", "scrapped", "2022-01-01T08:00:00Z", w.plant.sgln, w.maker.gln, ""],
    ]

    job = run("history", csv_bytes(header, rows))

    assert job.status == "imported", job.errors
    state = UnitState.objects.get(epc=w.device_sn("U-1"))
    assert state.lot == "LX" and state.disposition == "destroyed"
    assert Event.objects.filter(action="DELETE", biz_step="decommissioning").count() == 1


def test_a_dry_run_checks_the_history_and_stores_nothing(w: f.World) -> None:
    job = run("history", csv_bytes(HEADER, _life(w, "SN-1")), dry_run=True)

    assert job.status == "valid"
    assert job.summary["units"] == 1 and job.summary["events"] == 7
    assert not Event.objects.exists() and not UnitState.objects.exists()
    assert not CaptureJob.objects.exists()


def test_impossible_lives_are_refused_with_every_error(w: f.World) -> None:
    gtin = w.gtin(w.device)
    lot_product = md.product(manufacturer=w.maker, tracking="lot", model="LOT-1")
    lot_gtin = lot_product.identifiers.get().di
    plant = w.plant.gln
    rows = [
        [gtin, "A", "L1", "shipped", "2020-01-01T08:00", plant, w.distributor.gln, ""],  # 2
        [gtin, "B", "L1", "produced", "2020-01-01T08:00", plant, "", ""],  # 3
        [gtin, "B", "", "received", "2020-01-02T08:00", plant, "", ""],  # 4 not shipped
        [gtin, "C", "L1", "produced", "2020-01-01T08:00", plant, "", ""],  # 5
        [gtin, "C", "", "scrapped", "2020-02-01T08:00", plant, "", ""],  # 6
        [gtin, "C", "", "serviced", "2020-03-01T08:00", plant, "", ""],  # 7 after scrap
        [gtin, "D", "L1", "produced", "2020-01-01T08:00", plant, "", ""],  # 8
        [gtin, "D", "L9", "shipped", "2020-01-05T08:00", plant, "", ""],  # 9 no consignee
        [gtin, "E", "L1", "produced", "2099-01-01T08:00", plant, "", ""],  # 10 future
        [gtin, "F", "", "produced", "2020-01-01T08:00", "NOWHERE", "", ""],  # 11
        [lot_gtin, "G", "L1", "produced", "2020-01-01T08:00", plant, "", ""],  # 12 lot-tracked
        [gtin, "H", "", "produced", "yesterday", plant, "", ""],  # 13
        [gtin, "K", "L1", "produced", "2020-01-01T08:00", plant, w.hospital.gln, ""],  # 14
        [gtin, "I", "L1", "produced", "2020-01-01T08:00", plant, "", ""],  # 15
        [gtin, "I", "L1", "produced", "2020-01-01T08:00", plant, "", ""],  # 16 twice
        [gtin, "J", "L1", "born", "2020-01-01T08:00", plant, "", ""],  # 17
    ]

    job = run("history", csv_bytes(HEADER, rows))

    errors = errors_by_row(job)
    assert "first event must be 'produced'" in errors[2]["event"]
    assert errors[4] == {"event": "received without being shipped first"}
    assert "scrapped earlier" in errors[7]["event"]
    assert "required for a shipped row" in errors[9]["party"]
    assert errors[10] == {"event_time": "is in the future"}
    assert errors[11] == {"location": "no location NOWHERE in medtrace"}
    assert "is tracked by lot" in errors[12]["di"]
    assert "not a date and time" in errors[13]["event_time"]
    assert "belongs to 深圳迈瑞康医疗, not to 第一人民医院" in errors[14]["party"]
    assert "same produced at the same time as row 15" in errors[16]["event"]
    assert errors[17] == {"event": "'born' is not an event of this import"}
    assert set(errors) == {2, 4, 7, 9, 10, 11, 12, 13, 14, 16, 17}
    assert not Event.objects.exists() and not UnitState.objects.exists()


def test_a_unit_the_ledger_knows_is_refused(w: f.World) -> None:
    known = w.device_sn("K-1")
    f.capture(f.commission([known], f.t(1)))
    rows = _life(w, "K-1")[:1] + _life(w, "NEW")[:1]

    job = run("history", csv_bytes(HEADER, rows))

    assert job.status == "invalid"
    assert job.errors[0]["row"] == 2 and job.errors[0]["column"] == "serial"
    assert "already commissioned on 2025-03-01" in job.errors[0]["message"]
    assert len(job.errors) == 1
    assert not UnitState.objects.filter(epc=w.device_sn("NEW")).exists()


def test_lot_and_expiry_follow_the_product_label(w: f.World) -> None:
    product = md.product(
        manufacturer=w.maker, model="EXP-1", udi_pi_elements=["serial", "lot", "expiry"],
        shelf_life_days=365,
    )  # fmt: skip
    gtin = product.identifiers.get().di
    header = ["di", "serial", "lot", "expiry", "event", "event_time", "location"]
    rows = [
        [gtin, "X1", "", "", "produced", "2020-01-01T08:00", w.plant.gln],  # 2: lot, expiry
        [gtin, "X2", "A", "2021-01-01", "produced", "2020-01-01T08:00", w.plant.gln],  # 3
        [gtin, "X2", "B", "", "serviced", "2020-02-01T08:00", w.plant.gln],  # 4: other lot
    ]

    job = run("history", csv_bytes(header, rows))

    errors = errors_by_row(job)
    assert "carries a lot in its UDI" in errors[2]["lot"]
    assert "carries an expiry date" in errors[2]["expiry"]
    assert errors[4] == {"lot": "the unit's lot is A (row 3)"}
    assert set(errors) == {2, 4}


def test_an_hibc_product_is_named_by_its_hibc_di(w: f.World) -> None:
    product = md.product(
        manufacturer=w.maker, model="H-1", issuing_agency="hibcc",
        identifiers=[{"packaging_level": "unit", "di": "A123PUMP1"}],
    )  # fmt: skip
    assert product.identifiers.get().di == "A123PUMP1"
    rows = [["a123pump1", "H7", "", "produced", "2020-01-01T08:00", w.plant.gln, "", ""]]

    job = run("history", csv_bytes(HEADER, rows))

    assert job.status == "imported", job.errors
    assert UnitState.objects.filter(epc=udi.hibc_urn("A123PUMP1", "H7")).exists()
