"""CSV/XLSX downloads of the list pages: same filters and partner scoping as the page."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from medtrace.exports import lists

from .factories import ExportWorld
from .helpers import body, partner, session_client, staff, xlsx_rows

pytestmark = pytest.mark.django_db

PAGES = {
    "products": "/products/",
    "audit-trail": "/audit/",
    "implant-records": "/implants/",
    "complaints": "/complaints/",
    "adverse-events": "/complaints/adverse-events/",
    "nonconformances": "/quality/nonconformances/?status=all",
    "holds": "/quality/holds/?show=all",
    "recalls": "/recalls/",
    "suppliers": "/procurement/suppliers/",
}


def _csv(client: Any, url: str) -> list[list[str]]:
    response = client.get(url + ("&" if "?" in url else "?") + "format=csv")
    assert response.status_code == 200, (url, response.status_code)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(body(response).decode("utf-8-sig"))))


def test_every_list_page_offers_both_downloads(ew: ExportWorld) -> None:
    client = session_client(staff("ls_admin", "admin"))
    assert set(PAGES) == set(lists.LISTS)

    for url in PAGES.values():
        page = client.get(url).content.decode()
        assert "format=csv" in page and "format=xlsx" in page, url
        rows = _csv(client, url)
        assert rows and rows[0], url
        response = client.get(url + ("&" if "?" in url else "?") + "format=xlsx")
        assert response.status_code == 200
        assert xlsx_rows(body(response))[0] == rows[0], url


def test_the_download_keeps_the_page_filters(ew: ExportWorld) -> None:
    client = session_client(staff("ls_qa", "qa_ra"))

    rows = _csv(client, "/products/?q=CS-3018")

    assert len(rows) == 2
    assert rows[1][:3] == ["冠状动脉支架", "Coronary stent", "CS-3018"]
    assert ew.gtin in rows[1]


def test_the_export_links_carry_the_query_string(ew: ExportWorld) -> None:
    client = session_client(staff("ls_qa2", "qa_ra"))

    page = client.get("/products/?q=CS-3018").content.decode()

    assert "/products/?q=CS-3018&amp;format=csv" in page


def test_a_hospital_downloads_only_what_its_page_shows(ew: ExportWorld) -> None:
    client = session_client(partner("ls_hosp_b", ew.hospital_b))

    products = _csv(client, "/products/")
    implants = _csv(client, "/implants/")

    assert [r[2] for r in products[1:]] == ["CS-3018"]  # the only product it holds
    assert len(implants) == 2 and implants[1][0] == ew.epc("at_b")  # its own record only


def test_the_export_is_not_cut_at_the_page_display_limit(ew: ExportWorld) -> None:
    from medtrace.audit.models import AuditEntry
    from medtrace.audit.services import record_create_many
    from medtrace.masterdata.models import Party

    parties = Party.objects.bulk_create(
        [Party(name=f"Clinic {n}", role="hospital") for n in range(120)]
    )
    record_create_many(parties)
    client = session_client(staff("ls_aud", "auditor"))

    rows = _csv(client, "/audit/")

    assert len(rows) - 1 == AuditEntry.objects.count() > 100  # the page shows 100 at a time
