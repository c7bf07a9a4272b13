"""Recall document downloads (mounted at /api/v1/): notice PDFs and regulator reports.

- ``GET /recall-notices/{number}/pdf``: the notice in its own language. A distributor's or
  hospital's users get their own party's notices (``recall:ack``); another party's, or a
  drill's, is a 404. Staff with the notice view permission get any (``recalls:read``).
- ``GET /recalls/{number}/reports/{kind}.pdf`` and ``.xlsx``: the regulator reports (kinds
  cn_report, cn_plan, cn_summary, fda_806, eu_fsn) for staff who read recalls
  (``recalls:read``); ``lang`` (zh-hans or en) overrides the kind's own language.
"""

# No `from __future__ import annotations`: ninja reads the parameters from the annotations.
from django.http import HttpRequest, HttpResponse
from ninja import Router

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.errors import NotFound, ValidationFailed

from . import documents
from .common import campaign_get, is_partner, notice_get
from .models import RecallCampaign

router = Router(tags=["recalls"])

READ, ACK = "recalls:read", "recall:ack"
LANGUAGES = ("zh-hans", "en")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user(request: HttpRequest, *scopes: str) -> User:
    """The caller; a token needs one of ``scopes``."""
    assert isinstance(request.user, User)  # every route is authenticated
    token = getattr(request, "api_token", None)
    if token is not None and not set(scopes) & set(token.scopes):
        require_scope(request, scopes[0])
    return request.user


def _file(body: bytes, content_type: str, filename: str, *, inline: bool) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


@router.get("/recall-notices/{number}/pdf")
def notice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    """The recall notice as PDF: the consignee's own units, in the notice's language."""
    user = _user(request, READ, ACK)
    notice = notice_get(number=number, user=user)
    return _file(documents.notice_pdf(notice), "application/pdf", f"{number}.pdf", inline=True)


def _report(
    request: HttpRequest, number: str, kind: str, lang: str | None
) -> tuple[RecallCampaign, str | None]:
    user = _user(request, READ)
    if is_partner(user):
        # Campaigns and their reports are the maker's documents.
        raise NotFound("Not found")
    campaign = campaign_get(number=number, user=user)
    if kind not in documents.KINDS:
        raise NotFound(
            f"No report {kind!r}; expected one of {', '.join(documents.KINDS)}",
            field="kind",
        )
    if lang is not None and lang not in LANGUAGES:
        raise ValidationFailed(
            f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}", field="lang"
        )
    return campaign, lang


@router.get("/recalls/{number}/reports/{kind}.pdf")
def report_pdf(
    request: HttpRequest, number: str, kind: str, lang: str | None = None
) -> HttpResponse:
    """A regulator report as PDF (cn_report, cn_plan, cn_summary, fda_806, eu_fsn)."""
    campaign, lang = _report(request, number, kind, lang)
    body = documents.report_pdf(campaign, kind, lang)
    return _file(body, "application/pdf", f"{number}-{kind}.pdf", inline=True)


@router.get("/recalls/{number}/reports/{kind}.xlsx")
def report_xlsx(
    request: HttpRequest, number: str, kind: str, lang: str | None = None
) -> HttpResponse:
    """A regulator report as XLSX: the form's fields, then the Units and Consignees sheets."""
    campaign, lang = _report(request, number, kind, lang)
    body = documents.report_xlsx(campaign, kind, lang)
    return _file(body, XLSX, f"{number}-{kind}.xlsx", inline=False)
