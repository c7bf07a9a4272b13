"""Downloads for the recall pages: regulator reports (PDF, XLSX) and notice PDFs.

The documents themselves are made by ``medtrace.recalls.documents``; these views only check who
asks (a browser session: the API's download routes take bearer tokens) and stream the bytes.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from medtrace.errors import NotFound

from . import common
from .models import RecallNotice
from .views_common import actor, portal_page, staff_page

REPORT_KINDS = (
    ("cn_report", gettext_lazy("NMPA recall report (医疗器械召回事件报告表)")),
    ("cn_plan", gettext_lazy("NMPA recall plan (召回计划)")),
    ("cn_summary", gettext_lazy("NMPA recall summary evaluation (召回总结评估报告)")),
    ("fda_806", gettext_lazy("FDA correction or removal report (21 CFR 806)")),
    ("eu_fsn", gettext_lazy("EU field safety notice (MDR Art. 89)")),
)
FORMATS = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _documents() -> ModuleType:
    try:
        return importlib.import_module("medtrace.recalls.documents")
    except ModuleNotFoundError as exc:
        raise NotFound(_("Recall documents are not available in this installation.")) from exc


def _download(body: bytes, filename: str, fmt: str) -> HttpResponse:
    response = HttpResponse(body, content_type=FORMATS[fmt])
    disposition = "inline" if fmt == "pdf" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


LANGUAGES = ("zh-hans", "en")


@staff_page()
def report(request: HttpRequest, number: str, kind: str, fmt: str) -> HttpResponse:
    """A regulator report in its own language (NMPA forms in Chinese, FDA and EU in English)
    unless ``?lang=`` asks for the other."""
    campaign = common.campaign_get(number=number, user=actor(request))
    if kind not in dict(REPORT_KINDS) or fmt not in FORMATS:
        raise NotFound(_("No report %(kind)s.%(fmt)s") % {"kind": kind, "fmt": fmt})
    documents = _documents()
    lang = request.GET.get("lang")
    lang = lang if lang in LANGUAGES else None
    if fmt == "pdf":
        body = documents.report_pdf(campaign, kind, lang)
    else:
        body = documents.report_xlsx(campaign, kind, lang)
    suffix = f"-{lang}" if lang else ""
    return _download(body, f"{campaign.number}-{kind}{suffix}.{fmt}", fmt)


def _notice_pdf(notice: RecallNotice) -> HttpResponse:
    return _download(_documents().notice_pdf(notice), f"{notice.number}.pdf", "pdf")


@staff_page(common.PERM_NOTICE_VIEW)
def notice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    return _notice_pdf(common.notice_get(number=number, user=actor(request)))


@portal_page
def portal_notice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    return _notice_pdf(common.notice_get(number=number, user=actor(request)))
