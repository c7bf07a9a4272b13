"""Export endpoints (mounted at /api/v1/); every one needs the token scope ``exports:read``.

- ``GET /exports/cn-udi-di``, ``/exports/gudid``, ``/exports/eudamed``: the DI data of our
  products for China's UDI database, FDA GUDID and EUDAMED, as JSON (records and validation
  report) or XLSX (``format=xlsx``: the bulk spreadsheet). Internal staff only.
- ``GET /fhir/Device/{id}``: one unit as an HL7 FHIR R4 Device; ``id`` is the Device's id or
  any identifier form of the unit (EPC URN, UDI, Digital Link, serial), URL-encoded.
- ``GET /fhir/Device``: a searchset Bundle of the units of our products, optionally at one
  holder (``holder`` or FHIR's ``organization``: a GLN) and of one DI (``udi-di``), paged with
  ``_count`` and ``_offset``. A partner sees the devices it holds itself.
"""

# No `from __future__ import annotations`: ninja reads the parameters from the annotations.
import json
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from ninja import Query, Router, Schema

from medtrace.accounts.models import User
from medtrace.api import require_scope

from . import documents, fhir, selectors

router = Router(tags=["exports"])

SCOPE = "exports:read"


class NotKeptOut(Schema):
    field: str
    label: str
    note: str


class ProblemOut(Schema):
    di: str
    product_id: int
    product: str
    field: str
    label: str
    kind: str
    message: str


class ReportOut(Schema):
    complete: int
    incomplete: int
    not_in_master_data: list[NotKeptOut]
    problems: list[ProblemOut]


class DiExportOut(Schema):
    format: str
    title: str
    standard: str
    generated_at: datetime
    count: int
    records: list[dict[str, Any]]
    report: ReportOut


_DI_EXTRA = {
    "responses": {
        200: {
            "description": "JSON: the records and the validation report; XLSX with format=xlsx",
            "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}
                }
            },
        }
    }
}
_FHIR_EXTRA = {
    "responses": {
        200: {
            "description": "An HL7 FHIR R4 resource",
            "content": {fhir.FHIR_JSON: {"schema": {"type": "object"}}},
        }
    }
}


def _user(request: HttpRequest) -> User:
    require_scope(request, SCOPE)
    assert isinstance(request.user, User)  # every route is authenticated
    return request.user


def _di(
    request: HttpRequest,
    name: str,
    fmt: str,
    product: list[int] | None,
    include_inactive: bool,
) -> HttpResponseBase:
    user = _user(request)
    products = selectors.di_products(user=user, ids=product, include_inactive=include_inactive)
    export = documents.di_export(documents.FORMATS[name], products)
    if fmt == "xlsx":
        return documents.xlsx_response(export)
    return documents.json_response(export)


Fmt = Literal["json", "xlsx"]


@router.get(
    "/exports/cn-udi-di",
    response={200: DiExportOut},
    openapi_extra=_DI_EXTRA,
    summary="DI data for China's UDI database (NMPA UDID)",
)
def cn_udi_di(
    request: HttpRequest,
    format: Fmt = "json",
    product: list[int] | None = Query(None),  # noqa: B008
    include_inactive: bool = False,
) -> HttpResponseBase:
    """DI records per YY/T 1752/1753 for 国家医疗器械唯一标识数据库: one per product (its base-unit
    DI), with packaging levels and storage conditions, and a report of what master data is
    still missing. ``product`` (repeatable) limits the export to those product ids."""
    return _di(request, "cn-udi-di", format, product, include_inactive)


@router.get(
    "/exports/gudid",
    response={200: DiExportOut},
    openapi_extra=_DI_EXTRA,
    summary="GUDID-style DI records (FDA)",
)
def gudid(
    request: HttpRequest,
    format: Fmt = "json",
    product: list[int] | None = Query(None),  # noqa: B008
    include_inactive: bool = False,
) -> HttpResponseBase:
    """FDA GUDID data elements per product (primary DI, brand, model, labeler DUNS, MRI
    safety, sterility, controlled PIs, GMDN, product code, package DIs), with the report."""
    return _di(request, "gudid", format, product, include_inactive)


@router.get(
    "/exports/eudamed",
    response={200: DiExportOut},
    openapi_extra=_DI_EXTRA,
    summary="EUDAMED-style UDI-DI records (EU MDR)",
)
def eudamed(
    request: HttpRequest,
    format: Fmt = "json",
    product: list[int] | None = Query(None),  # noqa: B008
    include_inactive: bool = False,
) -> HttpResponseBase:
    """EU MDR UDI-DI data per product (Basic UDI-DI, UDI-DI, issuing entity, reference, trade
    name, sterility, production identifiers, direct marking, packages), with the report."""
    return _di(request, "eudamed", format, product, include_inactive)


def _fhir(body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), content_type=f"{fhir.FHIR_JSON}; charset=utf-8"
    )


Jurisdiction = Literal["cn", "us", "eu"]


@router.get(
    "/fhir/Device/{id}",
    response={200: dict[str, Any]},
    openapi_extra=_FHIR_EXTRA,
    summary="One unit as an HL7 FHIR R4 Device",
)
def fhir_device(request: HttpRequest, id: str, jurisdiction: Jurisdiction = "cn") -> HttpResponse:
    """``id``: the Device id, or any identifier form of the unit (URL-encoded). The UDI
    carrier's jurisdiction is NMPA unless ``jurisdiction`` is us or eu."""
    user = _user(request)
    row = selectors.unit_row(id=id, user=user)
    return _fhir(fhir.devices([row], user=user, jurisdiction=jurisdiction)[0])


@router.get(
    "/fhir/Device",
    response={200: dict[str, Any]},
    openapi_extra=_FHIR_EXTRA,
    summary="A searchset Bundle of FHIR R4 Devices (e.g. all units at a hospital)",
)
def fhir_devices(
    request: HttpRequest,
    holder: str | None = None,
    organization: str | None = None,
    udi_di: str | None = Query(None, alias="udi-di"),
    count: int = Query(selectors.DEFAULT_COUNT, alias="_count"),
    offset: int = Query(0, alias="_offset"),
    jurisdiction: Jurisdiction = "cn",
) -> HttpResponse:
    """The units of our products, ordered by EPC: at ``holder`` (or ``organization``, FHIR's
    name for the owner: a GLN, PGLN/SGLN URN or Digital Link), of DI ``udi-di``. A partner
    gets its own devices (another holder is a 404)."""
    user = _user(request)
    rows, total = selectors.unit_rows(
        user=user, holder=holder or organization, di=udi_di, count=count, offset=offset
    )
    resources = fhir.devices(rows, user=user, jurisdiction=jurisdiction)
    base = request.build_absolute_uri(request.path).rstrip("/")
    params = {k: v for k, v in request.GET.items() if k != "_offset"}
    next_url = None
    if offset + count < total:
        next_url = f"{base}?{urlencode({**params, '_offset': offset + count})}"
    return _fhir(
        fhir.bundle(
            resources,
            total=total,
            base=base,
            self_url=request.build_absolute_uri(),
            next_url=next_url,
        )
    )
