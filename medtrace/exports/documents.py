"""DI exports as documents: JSON (records and report in one object) and XLSX (a sheet of
records in the format's own field names, a sheet per repeated group keyed by the record's DI,
the validation report, and the field list with each field's medtrace source)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse

from medtrace.masterdata.models import Product

from . import tabular
from .cn_udi import CN_UDI_DI
from .di_common import DiExport, DiFormat, build, load_devices, report_rows
from .gudid_eudamed import EUDAMED, GUDID

FORMATS: dict[str, DiFormat] = {f.name: f for f in (CN_UDI_DI, GUDID, EUDAMED)}


def di_export(fmt: DiFormat, products: QuerySet[Product]) -> DiExport:
    return build(fmt, load_devices(products))


def _bool_text(value: Any) -> Any:
    # GUDID and EUDAMED spell booleans true/false in their bulk files; the NMPA fields are
    # already 是/否 text.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _cell(key: str) -> Callable[[dict[str, Any]], Any]:
    def get(row: dict[str, Any]) -> Any:
        return _bool_text(row.get(key))

    return get


def json_response(export: DiExport) -> HttpResponse:
    body = json.dumps(export.document(), ensure_ascii=False, indent=1)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = tabular.content_disposition(
        tabular.dated(export.format.name, "json")
    )
    return response


def sheets(export: DiExport) -> list[tabular.Sheet]:
    fmt = export.format
    key = fmt.key_field
    key_label = fmt.spec(key).label
    main = tabular.Sheet(
        fmt.title,
        [tabular.Column(s.label, _cell(s.key)) for s in fmt.specs],
        export.records,
    )
    out = [main]
    for sub in fmt.lists:
        rows = [{key: r[key], **item} for r in export.records for item in r[sub.key]]
        columns = [tabular.Column(key_label, key)]
        columns += [tabular.Column(label, _cell(k)) for k, label in sub.columns]
        out.append(tabular.Sheet(sub.label, columns, rows))
    out.append(
        tabular.Sheet(
            "report",
            [
                tabular.Column("DI", "di"),
                tabular.Column("field", "field"),
                tabular.Column("label", "label"),
                tabular.Column("problem", "kind"),
                tabular.Column("message", "message"),
            ],
            report_rows(export),
        )
    )
    out.append(
        tabular.Sheet(
            "fields",
            [
                tabular.Column("field", "key"),
                tabular.Column("label", "label"),
                tabular.Column("medtrace source", lambda s: s.source or "—"),
                tabular.Column(
                    "required",
                    lambda s: "conditional" if callable(s.required) else str(bool(s.required)),
                ),
                tabular.Column("note", "note"),
            ],
            list(fmt.specs),
        )
    )
    return out


def xlsx_response(export: DiExport) -> FileResponse:
    return tabular.xlsx_response(sheets(export), tabular.dated(export.format.name, "xlsx"))
