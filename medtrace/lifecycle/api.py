"""Traceability certificates (产品追溯证明) over the API (issue 5 item 7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from ninja import Router, Schema

from medtrace.accounts.models import User
from medtrace.api import require_scope

from .certificate import certificate_get, certificate_issue, certificate_verify
from .certificate_pdf import certificate_pdf
from .models import TraceCertificate

router = Router(tags=["certificates"])
SCOPE = "trace:read"


class CertificateOut(Schema):
    number: str
    epc: str
    issued_at: datetime
    sha256: str
    content: dict[str, Any]


class VerifyOut(Schema):
    number: str
    epc: str
    sha256: str
    intact: bool
    current: bool
    changed_sections: list[str]


def _user(request: HttpRequest) -> User:
    require_scope(request, SCOPE)
    assert isinstance(request.user, User)
    return request.user


def _pdf(cert: TraceCertificate, lang: str | None) -> HttpResponse:
    language = lang or translation.get_language() or "zh-hans"
    response = HttpResponse(
        certificate_pdf(cert, language=language), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="{cert.number}.pdf"'
    response["X-Certificate-SHA256"] = cert.sha256
    return response


def _out(cert: TraceCertificate) -> dict[str, Any]:
    return {
        "number": cert.number,
        "epc": cert.epc,
        "issued_at": cert.issued_at,
        "sha256": cert.sha256,
        "content": cert.content,
    }


@router.get(
    "/units/{path:id}/certificate",
    response={200: CertificateOut},
    url_name="unit_certificate",
    openapi_extra={
        "responses": {"200": {"content": {"application/pdf": {}, "application/json": {}}}}
    },
)
def unit_certificate(
    request: HttpRequest,
    id: str,
    format: Literal["pdf", "json"] = "pdf",
    lang: Literal["zh-hans", "en"] | None = None,
) -> Any:
    """Issue the unit's traceability certificate: the UDI, the whole lifecycle, the genealogy,
    the inspections and releases with their signatures, the current holder and a verification
    hash. Each call issues (and keeps) a new numbered certificate. ``format=pdf`` (default)
    returns the PDF (header X-Certificate-SHA256), ``format=json`` the stored content."""
    cert = certificate_issue(id=id, user=_user(request))
    if format == "json":
        return _out(cert)
    return _pdf(cert, lang)


@router.get("/certificates/{number}", response=CertificateOut)
def certificate_detail(request: HttpRequest, number: str) -> dict[str, Any]:
    """A certificate as it was issued."""
    return _out(certificate_get(number=number, user=_user(request)))


@router.get(
    "/certificates/{number}/pdf",
    openapi_extra={"responses": {"200": {"content": {"application/pdf": {}}}}},
)
def certificate_detail_pdf(
    request: HttpRequest, number: str, lang: Literal["zh-hans", "en"] | None = None
) -> HttpResponse:
    """The issued certificate printed again (same content, same hash)."""
    return _pdf(certificate_get(number=number, user=_user(request)), lang)


@router.get("/certificates/{number}/verify", response=VerifyOut)
def certificate_verify_view(request: HttpRequest, number: str) -> dict[str, Any]:
    """``intact``: the stored content still has the hash printed on the PDF. ``current``:
    today's ledger still says the same about the unit (else ``changed_sections`` names what
    changed since issue, e.g. new lifecycle events)."""
    user = _user(request)
    return certificate_verify(certificate_get(number=number, user=user), user=user)
