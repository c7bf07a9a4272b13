"""Recall documents: the notice PDF per consignee (its own units only, in its language) and the
regulator reports as PDF and XLSX. Text is read back from the PDFs with pypdf."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from openpyxl import load_workbook
from pypdf import PdfReader

from medtrace.errors import ValidationFailed
from medtrace.recalls import documents, services
from medtrace.recalls.documents import common as doc_common
from medtrace.recalls.models import AffectedUnit, RecallCampaign, RecallNotice

from .factories import R, recall_world

pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def flat(text: str) -> str:
    """Extracted text without the line breaks a table cell may put inside a long value."""
    return re.sub(r"\s+", "", text)


def lot_udi(r: R, lot: str) -> str:
    return f"(01){r.w.gtin(r.w.device)}(10){lot}"


Recall = tuple[R, RecallCampaign, dict[str, RecallNotice]]


@pytest.fixture(scope="module")
def recall_once(django_db_setup: None, django_db_blocker: Any) -> Iterator[Recall]:
    """Lot LOT-D: two units at hospital A, one at hospital B, one in our stock; approved at
    level I, notices created. Built once for the module in a transaction rolled back at its
    end; each test runs in a savepoint inside it (pytest-django's ``db``), so what a test
    writes is gone for the next."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            r = recall_world()
            r.at(r.w.hospital, "HA-1", "HA-2", lot="LOT-D")
            r.at(r.hospital_b, "HB-1", lot="LOT-D")
            r.stock("ST-1", lot="LOT-D")
            campaign = r.approved(r.open(kind="lot", lot=lot_udi(r, "LOT-D")), level=1)
            notices = services.recall_notices_create(campaign=campaign, user=r.qa)
            by_party = {n.consignee.name: n for n in notices}
            yield (
                r,
                campaign,
                {"a": by_party[r.w.hospital.name], "b": by_party[r.hospital_b.name]},
            )
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def recall(recall_once: Recall, db: None) -> Recall:
    r, campaign, notices = recall_once
    campaign.refresh_from_db()
    for notice in notices.values():
        notice.refresh_from_db()
    return r, campaign, notices


# The notice ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_notice_lists_exactly_the_consignees_own_units_in_either_language(
    recall: Any, language: str
) -> None:
    r, campaign, notices = recall
    notice = notices["a"]
    notice.language = language

    text = flat(text_of(documents.notice_pdf(notice)))

    gtin = r.w.gtin(r.w.device)
    for serial in ("HA-1", "HA-2"):
        assert f"(01){gtin}(10)LOT-D(21){serial}" in text
    assert "HB-1" not in text and "ST-1" not in text  # hospital B's unit, our own stock
    assert notice.number in text and campaign.number in text
    assert f"/recalls/portal/notices/{notice.number}/" in text
    assert f"/api/v1/recall-notices/{notice.number}/acknowledge" in text


def test_the_english_notice_names_maker_recall_hazard_classification_and_deadline(
    recall: Any,
) -> None:
    _r, _campaign, notices = recall
    notice = notices["b"]
    notice.language = "en"

    text = text_of(documents.notice_pdf(notice))

    assert "URGENT: Medical device recall notice" in text
    assert "Occlusionalarmmaynotsound" in flat(text)
    assert "Level I" in text and "FDA Class II" in text
    assert "Acknowledge by" in text and doc_common.when(notice.deadline_at)[:10] in text
    assert "HB-1" in text and "HA-1" not in text
    assert "forward this notice" in text  # depth: user level
    assert "Infusion pump IP-9" in text and "Ward B" in text


def test_the_chinese_notice_prints_chinese_text(recall: Any) -> None:
    _r, _campaign, notices = recall
    notice = notices["a"]
    assert notice.language == "zh-hans"  # a party in China

    text = text_of(documents.notice_pdf(notice))

    assert "第一人民医院" in text  # the consignee's name, in the CID font
    assert "一级" in text


def test_a_long_unit_list_runs_over_several_pages_with_every_unit(recall: Any) -> None:
    _r, _campaign, notices = recall
    notice = notices["a"]
    found = AffectedUnit.objects.filter(notice=notice).values().first()
    assert found is not None
    first: dict[str, Any] = {k: v for k, v in found.items() if k != "id"}
    AffectedUnit.objects.bulk_create(
        AffectedUnit(**{**first, "epc": f"{first['epc']}-X{n}", "serial": f"BULK-{n:04d}"})
        for n in range(600)
    )

    pdf = documents.notice_pdf(notice)

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 10
    text = flat(text_of(pdf))
    assert all(f"(21)BULK-{n:04d}" in text for n in range(600))


def test_a_drill_notice_says_so_on_top(recall: Recall) -> None:
    r = recall[0]
    r.at(r.w.hospital, "DR-1", lot="LOT-R")
    campaign = r.approved(r.open(kind="lot", lot=lot_udi(r, "LOT-R"), drill=True))
    (notice,) = services.recall_notices_create(campaign=campaign, user=r.qa)
    notice.language = "en"

    text = text_of(documents.notice_pdf(notice))

    assert "RECALL DRILL" in text


# Regulator reports -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", documents.KINDS)
def test_every_report_renders_as_pdf_and_xlsx_with_every_unit_and_consignee(
    recall: Any, kind: str
) -> None:
    r, campaign, _notices = recall

    pdf = documents.report_pdf(campaign, kind, "en")
    book = load_workbook(io.BytesIO(documents.report_xlsx(campaign, kind)))

    text = flat(text_of(pdf))
    for serial in ("HA-1", "HA-2", "HB-1", "ST-1"):
        assert serial in text
    assert book.sheetnames[0] == "Report" and "Units" in book.sheetnames
    units = book["Units"]
    serials = {row[5] for row in units.iter_rows(min_row=2, values_only=True)}
    assert serials == {"HA-1", "HA-2", "HB-1", "ST-1"}
    consignees = book["Consignees"]
    names = {row[0] for row in consignees.iter_rows(min_row=2, values_only=True)}
    assert names == {r.w.hospital.name, r.hospital_b.name}


def fields(book: Any) -> dict[str, Any]:
    return {
        row[0]: row[1]
        for row in book["Report"].iter_rows(min_row=4, values_only=True)
        if row[0] is not None and len(row) > 1
    }


def test_the_cn_report_has_the_forms_fields_in_chinese_with_english(recall: Any) -> None:
    r, campaign, _notices = recall

    book = load_workbook(io.BytesIO(documents.report_xlsx(campaign, "cn_report")))

    f = fields(book)
    assert f["产品名称 Product name"] == r.w.device.name
    assert f["注册证编号/备案编号 Registration / filing no."] == r.w.device.nmpa_registration_no
    assert f["规格型号 Model / specification"] == "IP-9"
    assert f["批号 Lot numbers"] == "LOT-D"
    assert f["召回级别 Recall level"] == "一级"  # the zh-Hans label of CnLevel.LEVEL_1
    assert f["召回原因 Reason for the recall"] == campaign.reason
    assert "4" in f["召回范围-数量 Scope: quantity"]
    assert f["召回编号 Recall number"] == campaign.number
    assert f["医疗器械注册人/备案人名称 Registrant / filer"] == r.w.maker.name
    assert f["召回开始时间 Recall start (decision)"].startswith(
        doc_common.when(campaign.decision_at)[:10]
    )


def test_the_cn_plan_states_the_notification_time_limit_of_the_level(recall: Any) -> None:
    _r, campaign, _notices = recall

    f = fields(load_workbook(io.BytesIO(documents.report_xlsx(campaign, "cn_plan", "en"))))

    assert f["通知时限 Notification time limit"].startswith("within 1 day(s)")
    assert f["通知截止 Notify consignees by"]


def test_the_cn_summary_counts_what_became_of_the_units_per_consignee(recall: Any) -> None:
    r, campaign, notices = recall
    services.recall_notices_send(campaign=campaign, user=r.qa)
    ha1 = AffectedUnit.objects.get(campaign=campaign, serial="HA-1")
    services.unit_dispositions_report(
        notice=notices["a"],
        items=[{"unit": ha1.epc, "status": "destroyed"}],
        user=r.qa,
    )

    book = load_workbook(io.BytesIO(documents.report_xlsx(campaign, "cn_summary", "en")))

    f = fields(book)
    assert f["已销毁 Destroyed"] == 1 and f["未处理 Still pending"] == 3
    per = {row[0]: row for row in book["Consignees"].iter_rows(min_row=2, values_only=True)}
    header = next(book["Consignees"].iter_rows(max_row=1, values_only=True))
    assert per[r.w.hospital.name][header.index("destroyed")] == 1
    assert per[r.w.hospital.name][header.index("Units")] == 2


def test_the_fda_806_report_lists_notices_consignees_and_distribution_dates(
    recall: Any,
) -> None:
    r, campaign, notices = recall
    services.recall_notices_send(campaign=campaign, user=r.qa)

    f = fields(load_workbook(io.BytesIO(documents.report_xlsx(campaign, "fda_806"))))

    assert notices["a"].number in f["Communications (recall notices)"]
    assert f["FDA recall class"] == "Class II"
    assert f["Quantity distributed"] == 3
    assert f["Dates distributed"] != "no shipment recorded in medtrace"
    assert "No adverse event report" in f["803 reports"]


def test_the_eu_fsn_has_the_template_sections(recall: Any) -> None:
    _r, campaign, _notices = recall

    text = text_of(documents.report_pdf(campaign, "eu_fsn", "en"))

    for heading in (
        "Urgent Field Safety Notice",
        "1. Affected devices",
        "2. Reason for the field safety corrective action",
        "3. Actions to mitigate the risk",
        "Transmission of this Field Safety Notice",
    ):
        assert heading in text


def test_an_unknown_report_kind_is_refused_naming_the_kinds(recall: Any) -> None:
    _r, campaign, _notices = recall

    with pytest.raises(ValidationFailed, match="expected one of cn_report") as exc:
        documents.report_pdf(campaign, "fda_807", "en")
    assert exc.value.field == "kind"


# Download endpoints ----------------------------------------------------------------------------


def test_a_hospital_downloads_its_own_notice_pdf_and_not_another_hospitals(
    recall: Any, api_client: Any
) -> None:
    r, campaign, notices = recall
    services.recall_notices_send(campaign=campaign, user=r.qa)  # a draft is not theirs to see
    mine = api_client(r.d.hospital_user, scopes=["recall:ack"])

    own = mine.get(f"/api/v1/recall-notices/{notices['a'].number}/pdf")
    other = mine.get(f"/api/v1/recall-notices/{notices['b'].number}/pdf")

    assert own.status_code == 200 and own["Content-Type"] == "application/pdf"
    text = flat(text_of(own.content))
    assert "HA-1" in text and "HB-1" not in text
    assert other.status_code == 404 and other.json()["error"] == "not_found"


def test_staff_download_reports_as_pdf_and_xlsx_and_partners_cannot(
    recall: Any, api_client: Any
) -> None:
    r, campaign, _notices = recall
    staff = api_client(r.auditor, scopes=["recalls:read"])
    partner = api_client(r.d.hospital_user, scopes=["recall:ack"])
    base = f"/api/v1/recalls/{campaign.number}/reports"

    pdf = staff.get(f"{base}/fda_806.pdf?lang=en")
    xlsx = staff.get(f"{base}/cn_summary.xlsx")
    unknown = staff.get(f"{base}/fda_807.pdf")
    bad_lang = staff.get(f"{base}/cn_plan.pdf?lang=fr")
    refused = partner.get(f"{base}/cn_report.pdf")

    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "Report of correction or removal" in text_of(pdf.content)
    assert xlsx.status_code == 200
    assert xlsx["Content-Disposition"] == (
        f'attachment; filename="{campaign.number}-cn_summary.xlsx"'
    )
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[-2:] == ["Units", "Consignees"]
    assert unknown.status_code == 404 and "cn_report" in unknown.json()["message"]
    assert bad_lang.status_code == 422 and bad_lang.json()["field"] == "lang"
    assert refused.status_code == 403
