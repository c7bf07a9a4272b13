"""Lot and container pages: the forward trace as a graph and by holder, downloads, the scan
box, "Open a recall", partner scoping and a bounded number of statements."""

from __future__ import annotations

import csv
import io
import zipfile
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from medtrace.accounts.models import User
from medtrace.trace.tests import factories as f
from medtrace.trace.tests.lot_story import Story, ship_counted_lot, tell

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(hospital_a: User, hospital_b: User) -> Story:
    assert hospital_a.party is not None and hospital_b.party is not None
    return tell(f.world(), (hospital_a.party, hospital_b.party))


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _lot(client: Client, ident: str, **extra: str) -> str:
    response = client.get("/trace/lot/", {"id": ident, **extra})
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def test_the_lot_page_draws_where_the_lot_went_and_lists_units_by_holder(
    story: Story, qa_manager: User, hospital_a: User, hospital_b: User
) -> None:
    html = _lot(_client(qa_manager), story.resin)

    assert "<svg" in html and 'class="mt-graph"' in html
    assert story.w.resin.name in html  # the lot's material, in the header and the graph
    assert story.w.device.name in html  # the group of devices the boards went into
    for party in (hospital_a.party, hospital_b.party, story.w.maker):
        assert party is not None and party.name in html
    assert "SD0" in html and "SD1" in html and "SB2" in html  # unit chips, by serial
    assert 'id="affected-count">3<' in html


def test_a_holder_box_lists_that_holders_units(
    story: Story, qa_manager: User, hospital_a: User
) -> None:
    assert hospital_a.party is not None
    html = _lot(_client(qa_manager), story.resin, holder=hospital_a.party.gln)

    assert 'class="selected-holder"' in html
    assert story.devices[0] in html


def test_the_lot_page_downloads_its_units_as_csv_and_xlsx(
    story: Story, qa_manager: User, hospital_a: User
) -> None:
    client = _client(qa_manager)

    as_csv = client.get("/trace/lot/", {"id": story.resin, "format": "csv"})
    as_xlsx = client.get("/trace/lot/", {"id": story.resin, "format": "xlsx"})

    text = b"".join(as_csv.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert as_csv["Content-Type"].startswith("text/csv")
    assert {r["EPC"] for r in rows} == {*story.devices[:2], story.removed_board}
    assert hospital_a.party is not None
    assert hospital_a.party.name in text
    body = b"".join(as_xlsx.streaming_content)  # type: ignore[attr-defined]
    with zipfile.ZipFile(io.BytesIO(body)) as book:
        strings = (
            book.read("xl/sharedStrings.xml").decode()
            if "xl/sharedStrings.xml" in (book.namelist())
            else book.read("xl/worksheets/sheet1.xml").decode()
        )
    assert story.devices[0] in strings


def test_scanning_a_lot_udi_opens_the_lot_page(story: Story, qa_manager: User) -> None:
    client = _client(qa_manager)

    scan = client.get("/scan/", {"code": story.device_lot_udi})

    assert scan.status_code == 302
    assert urlparse(scan["Location"]).path == "/trace/lot/"
    page = client.get(scan["Location"])
    assert page.status_code == 200
    assert story.device_lot in page.content.decode()


def test_scanning_an_sscc_opens_the_container_page(story: Story, qa_manager: User) -> None:
    client = _client(qa_manager)

    scan = client.get("/scan/", {"code": story.case_udi})

    assert scan.status_code == 302
    assert urlparse(scan["Location"]).path == "/trace/container/"
    html = client.get(scan["Location"]).content.decode()
    assert story.case_udi in html
    assert "SD0" in html and "SD1" in html


def test_a_lot_named_on_the_container_url_is_sent_to_its_own_page(
    story: Story, qa_manager: User
) -> None:
    client = _client(qa_manager)

    wrong = client.get("/trace/container/", {"id": story.resin})
    unit = client.get("/trace/lot/", {"id": story.devices[0]})

    assert wrong.status_code == 302 and urlparse(wrong["Location"]).path == "/trace/lot/"
    assert unit.status_code == 302 and urlparse(unit["Location"]).path == "/trace/"


def test_qa_opens_a_recall_from_the_lot_page_with_the_lot_filled_in(
    story: Story, qa_manager: User
) -> None:
    client = _client(qa_manager)
    html = _lot(client, story.device_lot_udi)

    start = html.index('id="open-recall" href="') + len('id="open-recall" href="')
    link = html[start : html.index('"', start)].replace("&amp;", "&")
    form = client.get(link)

    assert urlparse(link).path == "/recalls/new/"
    assert parse_qs(urlparse(link).query)["kind"] == ["lot"]
    html = form.content.decode()
    assert form.status_code == 200
    assert story.device_lot in html  # the lot field is filled in
    assert "SD0" in html and "SD2" in html  # the scope preview lists the lot's units


def test_a_supplier_lot_opens_the_supplier_lot_recall_form(story: Story, qa_manager: User) -> None:
    html = _lot(_client(qa_manager), story.resin)

    assert "kind=supplier_lot" in html


def test_only_those_who_may_open_a_recall_get_the_button(
    story: Story, warehouse_clerk: User, hospital_a: User
) -> None:
    for user in (warehouse_clerk, hospital_a):
        html = _lot(_client(user), story.device_lot_udi)
        assert 'id="open-recall"' not in html


def test_a_hospital_sees_only_its_own_part_of_a_lot(
    story: Story, hospital_a: User, hospital_b: User
) -> None:
    assert hospital_b.party is not None
    client = _client(hospital_a)

    html = _lot(client, story.resin)
    download = client.get("/trace/lot/", {"id": story.resin, "format": "csv"})
    text = b"".join(download.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]

    assert story.devices[0] in html
    # Not hospital b's device, nor the board the maker keeps (its own units' last known
    # location may be the maker's warehouse: that is the unit's, not another party's).
    for hidden in (story.devices[1], "SD1", story.removed_board, "SB2", hospital_b.party.name):
        assert hidden not in html
        assert hidden not in text


def test_a_hospital_cannot_open_a_lot_that_reached_none_of_its_units(
    hospital_a: User,
) -> None:
    w = f.world()
    lot = w.resin_lot("NOT-YOURS")
    f.capture(f.transform(f.t(1), input_lots=[(lot, 1.0)], outputs=[w.device_sn("NY1")]))

    response = _client(hospital_a).get("/trace/lot/", {"id": lot})

    assert response.status_code == 404


def test_history_lists_units_no_longer_affected(story: Story, qa_manager: User) -> None:
    html = _lot(_client(qa_manager), story.resin, include_history="true")

    assert 'id="past"' in html
    assert "SD2" in html
    assert "stroke-dasharray" in html or 'class="link removed"' in html


def test_the_lot_page_runs_the_same_statements_for_three_or_twelve_devices(
    qa_manager: User, hospital_a: User, hospital_b: User
) -> None:
    assert hospital_a.party is not None and hospital_b.party is not None
    w = f.world()
    small = tell(w, (hospital_a.party, hospital_b.party), devices=3, tag="A")
    large = tell(w, (hospital_a.party, hospital_b.party), devices=12, tag="B")
    client = _client(qa_manager)
    _lot(client, small.resin)  # warm: session, permissions, templates

    counts = []
    for lot in (small.resin, large.resin):
        with CaptureQueriesContext(connection) as queries:
            _lot(client, lot)
        counts.append(len(queries))

    assert counts[0] == counts[1], counts
    assert counts[1] <= 24, counts  # session, user, lot, walk, states, master data, JIT off


def test_the_lot_page_is_translated(story: Story, qa_manager: User) -> None:
    client = _client(qa_manager)

    chinese = _lot(client, story.resin)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = _lot(client, story.resin)

    assert "按持有方" in chinese or "受影响" in chinese
    assert "Affected units by holder" in english
    assert "Affected units by holder" not in chinese


def test_the_container_page_url_accepts_an_sscc_urn(story: Story, qa_manager: User) -> None:
    response = _client(qa_manager).get("/trace/container/?" + urlencode({"id": story.case}))

    assert response.status_code == 200
    assert "SD0" in response.content.decode()


def test_a_lot_of_counted_goods_shows_the_quantities_shipped(
    qa_manager: User, hospital_a: User, hospital_b: User
) -> None:
    assert hospital_a.party is not None and hospital_b.party is not None
    lot = ship_counted_lot(f.world(), (hospital_a.party, hospital_b.party))

    html = _lot(_client(qa_manager), lot)
    own = _lot(_client(hospital_a), lot)

    assert 'id="quantities"' in html
    assert hospital_a.party.name in html and hospital_b.party.name in html
    assert "200 KGM" in html and "100 KGM" in html
    assert hospital_a.party.name in own and hospital_b.party.name not in own
