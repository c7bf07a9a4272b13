"""The ways in: the `medtrace import` command, the API and the import pages."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from medtrace.audit.models import AuditEntry
from medtrace.imports import services
from medtrace.imports.models import ImportJob
from medtrace.imports.tests.factories import csv_bytes, xlsx_bytes
from medtrace.ledger.models import UnitState
from medtrace.masterdata.models import Party
from medtrace.masterdata.tests import factories as md
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db
HEADER = ["name", "role", "gln"]


def _rows(n: int) -> list[list[Any]]:
    return [[f"Hospital {i}", "hospital", md.gln("6950001", i)] for i in range(1, n + 1)]


# CLI ------------------------------------------------------------------------------------------


def test_the_command_imports_with_a_progress_bar(tmp_path: Path, capsys) -> None:
    path = tmp_path / "parties.xlsx"
    path.write_bytes(xlsx_bytes(HEADER, _rows(3)))

    call_command("import", "parties", str(path))

    out, err = capsys.readouterr()
    assert re.search(r"import \d+ \(parties, parties.xlsx\): imported in [\d.]+ s - parties 3", out)
    assert "reading" in err and "storing" in err and "3/3 rows 100%" in err
    assert Party.objects.filter(gln__startswith="695000").count() == 3
    # The system acted (no --user): its audit entries say so.
    entry = AuditEntry.objects.filter(object_type="masterdata.party").first()
    assert entry is not None and entry.actor_name.startswith("<")


def test_the_command_refuses_a_bad_file_listing_every_error(tmp_path: Path, capsys) -> None:
    rows = _rows(3)
    rows[0][1], rows[2][2] = "nope", "1"
    path = tmp_path / "parties.csv"
    path.write_bytes(csv_bytes(HEADER, rows))

    with pytest.raises(CommandError, match=r"import \d+ refused, nothing stored: 2 errors"):
        call_command("import", "parties", str(path), "--no-progress")

    out = capsys.readouterr().out
    assert "row 2, role: 'nope' is not one of the accepted values (expected: one of:" in out
    assert "row 4, gln: A GLN has exactly 13 digits" in out
    assert not Party.objects.filter(gln__startswith="695000").exists()


def test_the_command_dry_run_and_user(tmp_path: Path, capsys, qa_manager) -> None:
    path = tmp_path / "parties.csv"
    path.write_bytes(csv_bytes(HEADER, _rows(2)))

    call_command("import", "parties", str(path), "--dry-run", "--user", "qa_manager", "--json")

    out = capsys.readouterr().out
    assert '"status": "valid"' in out and '"parties": 2' in out
    assert ImportJob.objects.get().created_by == qa_manager
    assert not Party.objects.filter(gln__startswith="695000").exists()


# API ------------------------------------------------------------------------------------------


@pytest.fixture
def client_for(api_client: Any) -> Any:
    def make(user: Any, scopes: list[str] | None = None) -> Client:
        return api_client(user, scopes or ["imports:write"])

    return make


def _post(client: Client, kind: str, content: bytes, name: str, **extra: Any) -> Any:
    upload = io.BytesIO(content)
    upload.name = name
    return client.post("/api/v1/imports", {"kind": kind, "file": upload, **extra})


def test_the_api_imports_and_answers_with_the_job(client_for: Any, qa_manager) -> None:
    client = client_for(qa_manager)

    response = _post(client, "parties", xlsx_bytes(HEADER, _rows(2)), "p.xlsx")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "imported" and body["summary"]["parties"] == 2
    assert body["file_format"] == "xlsx" and body["created_by"] == "qa_manager"
    assert body["errors"] == [] and body["total_rows"] == 2
    again = client.get(f"/api/v1/imports/{body['id']}")
    assert again.status_code == 200 and again.json()["processed_rows"] == 2
    listed = client.get("/api/v1/imports").json()
    assert listed["count"] == 1 and "errors" not in listed["items"][0]


def test_the_api_refuses_a_bad_file_with_every_error(client_for: Any, qa_manager) -> None:
    rows = _rows(3)
    rows[0][1], rows[1][2] = "nope", md.gln("6950001", 1)

    response = _post(client_for(qa_manager), "parties", csv_bytes(HEADER, rows), "p.csv")

    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_failed" and body["field"] == "role"
    assert (
        body["message"].startswith("import ")
        and "nothing was stored: 2 errors in 2 rows" in (body["message"])
    )
    assert [(d["row"], d["column"], d["code"]) for d in body["details"]] == [
        (2, "role", "invalid_choice"),
        (3, "gln", "duplicate_in_file"),
    ]
    assert body["details"][0]["expected"].startswith("one of: manufacturer")
    job = ImportJob.objects.get()
    assert job.status == "invalid" and job.error_count == 2
    assert not Party.objects.filter(gln__startswith="695000").exists()


def test_the_api_dry_run_answers_200_with_the_errors(client_for: Any, qa_manager) -> None:
    rows = _rows(1)
    rows[0][1] = "nope"

    response = _post(
        client_for(qa_manager), "parties", csv_bytes(HEADER, rows), "p.csv", dry_run="true"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "invalid" and response.json()["error_count"] == 1


def test_the_api_needs_the_scope_and_the_permission(
    client_for: Any, qa_manager, warehouse_clerk
) -> None:
    content = csv_bytes(HEADER, _rows(1))
    no_scope = _post(client_for(qa_manager, ["masterdata:write"]), "parties", content, "p.csv")
    assert no_scope.status_code == 403 and "imports:write" in no_scope.json()["message"]
    not_allowed = _post(client_for(warehouse_clerk), "parties", content, "p.csv")
    assert not_allowed.status_code == 403
    assert "masterdata.add_party" in not_allowed.json()["message"]
    unknown = _post(client_for(qa_manager), "widgets", content, "p.csv")
    assert unknown.status_code == 422 and unknown.json()["field"] == "kind"
    assert not ImportJob.objects.exists()


def test_someone_elses_job_is_not_found(client_for: Any, qa_manager, warehouse_clerk) -> None:
    job = services.import_create(
        kind="parties",
        name="p.csv",
        stream=io.BytesIO(csv_bytes(HEADER, _rows(1))),
        dry_run=True,
        user=qa_manager,
    )

    response = client_for(warehouse_clerk).get(f"/api/v1/imports/{job.pk}")

    assert response.status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_templates_are_the_header_row(client_for: Any, qa_manager, fmt: str) -> None:
    response = client_for(qa_manager).get(f"/api/v1/imports/templates/history?format={fmt}")

    assert response.status_code == 200
    assert f"medtrace-import-history.{fmt}" in response["Content-Disposition"]
    if fmt == "csv":
        text = response.content.decode("utf-8-sig")
        assert text == "udi,di,serial,lot,expiry,event,event_time,location,party,document\r\n"
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        assert sheet is not None
        assert [c.value for c in sheet[1]][:3] == ["udi", "di", "serial"]
        assert sheet.max_row == 1


def test_an_api_history_import(client_for: Any, admin_user) -> None:
    w = f.world()
    header = ["di", "serial", "event", "event_time", "location"]
    rows = [[w.gtin(w.device), "API-1", "produced", "2020-01-01T08:00:00+08:00", w.plant.gln]]

    response = _post(client_for(admin_user), "history", csv_bytes(header, rows), "h.csv")

    assert response.status_code == 201, response.content
    assert response.json()["summary"] == {"units": 1, "events": 1, "rows": 1, "blank_rows": 0}
    assert len(response.json()["capture_jobs"]) == 1
    assert UnitState.objects.filter(epc=w.device_sn("API-1")).exists()


# Pages ----------------------------------------------------------------------------------------


def _browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = "en"  # the texts below are the sources
    return client


def test_the_import_page_uploads_then_runs_with_a_progress_indicator(qa_manager) -> None:
    browser = _browser(qa_manager)
    page = browser.get("/imports/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="kind"' in html and 'value="history"' in html and 'type="file"' in html
    assert "/imports/templates/parties.xlsx" in html

    upload = io.BytesIO(csv_bytes(HEADER, _rows(2)))
    upload.name = "hospitals.csv"
    response = browser.post("/imports/", {"kind": "parties", "file": upload})

    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    assert job.status == "pending"
    detail = browser.get(f"/imports/{job.pk}/").content.decode()
    assert '<progress id="import-bar"' in detail  # the indicator the script moves
    assert f"/imports/{job.pk}/progress/" in detail and f"/imports/{job.pk}/run/" in detail
    progress = browser.get(f"/imports/{job.pk}/progress/").json()
    assert progress["status"] == "pending" and progress["finished"] is False

    ran = browser.post(f"/imports/{job.pk}/run/", HTTP_ACCEPT="application/json")

    assert ran.status_code == 200
    assert ran.json() | {"id": 0} == {
        "id": 0, "status": "imported", "status_display": "imported", "phase": "done",
        "phase_display": "done", "processed": 2, "total": 2, "percent": 100,
        "finished": True, "error_count": 0,
    }  # fmt: skip
    done = browser.get(f"/imports/{job.pk}/").content.decode()
    assert "<script>" not in done and "import-bar" in done
    assert Party.objects.filter(gln__startswith="695000").count() == 2
    assert browser.post(f"/imports/{job.pk}/run/").status_code == 409  # a job runs once


def test_the_job_page_lists_every_error(qa_manager) -> None:
    rows = _rows(2)
    rows[0][1] = "nope"
    rows[1][2] = "12"
    job = services.import_create(
        kind="parties",
        name="bad.csv",
        stream=io.BytesIO(csv_bytes(HEADER, rows)),
        dry_run=False,
        user=qa_manager,
    )
    browser = _browser(qa_manager)

    browser.post(f"/imports/{job.pk}/run/")
    html = browser.get(f"/imports/{job.pk}/").content.decode()

    assert "2 errors: nothing was stored" in html
    assert "&#x27;nope&#x27; is not one of the accepted values" in html
    assert "A GLN has exactly 13 digits; got 2 characters." in html


def test_partners_and_roles_without_imports_have_no_import_page(hospital_a) -> None:
    from conftest import _user

    assert _browser(hospital_a).get("/imports/").status_code == 403
    assert _browser(_user("qc_person", role="qc")).get("/imports/").status_code == 403
