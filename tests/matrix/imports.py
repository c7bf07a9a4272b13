"""Imports (issue 7 item 4): a master-data import needs the add permission of the records it
creates (parties: procurement, sales, QA/RA, admin; ...), a legacy history import QA/RA's or
the administrator's ``imports.import_history``. Everyone sees their own jobs, QA/RA, the auditor
and the administrator all of them (others: 404). Partner tokens cannot carry imports:write;
partners have no import pages (403).

World: a pending (not run) dry-run job of parties uploaded by QA/RA."""

from __future__ import annotations

import io
from typing import Any

PARTY_W = ("procurement", "sales", "qa_ra", "admin")
HISTORY_W = ("qa_ra", "admin")
SEE_ALL = ("qa_ra", "auditor", "admin")
# Roles with an import page: any master-data add permission, or import jobs to read.
PAGE = ("procurement", "warehouse", "sales", "qa_ra", "auditor", "admin")


def register(m: Any) -> None:
    v = m.V
    m.add(
        "POST /api/v1/imports",
        # No file: past the scope and permission checks, the service asks for it (422).
        m.Case("POST", v + "/imports", m.only(PARTY_W, 422), form={"kind": "parties"}),
        m.Case("POST", v + "/imports", m.only(HISTORY_W, 422), form={"kind": "history"}),
    )
    m.api_case("GET /api/v1/imports", m.expect(401, 200, 403))
    m.api_case(
        "GET /api/v1/imports/templates/{kind}",
        m.expect(401, 200, 403),
        url=v + "/imports/templates/products?format=xlsx",
    )
    m.api_case(
        "GET /api/v1/imports/{job_id}",
        m.only(SEE_ALL, 200, no=404),
        url=v + "/imports/{import_job}",
    )

    def page(expected: dict[str, int]) -> dict[str, int]:
        return {**m.only((), 200, no=403, anon=302), **expected}

    job_page = page({r: 404 for r in PAGE} | {r: 200 for r in SEE_ALL})
    m.add(
        "/imports/",
        m.Case("GET", "/imports/", page({r: 200 for r in PAGE}), session=True),
        m.Case(
            "POST",
            "/imports/",
            page({r: 422 for r in PARTY_W}),  # no file chosen
            session=True,
            form={"kind": "parties"},
        ),
    )
    m.add(
        "/imports/templates/<slug:kind>.<slug:fmt>",
        m.Case("GET", "/imports/templates/parties.csv", page({r: 200 for r in PAGE}), session=True),
    )
    m.add(
        "/imports/<int:pk>/",
        m.Case("GET", "/imports/{import_job}/", job_page, session=True),
    )
    m.add(
        "/imports/<int:pk>/progress/",
        m.Case("GET", "/imports/{import_job}/progress/", job_page, session=True),
    )
    m.add(
        "/imports/<int:pk>/run/",
        # Only the uploader runs a job (302 back to its page); others who see it: 403.
        m.Case(
            "POST",
            "/imports/{import_job}/run/",
            page({r: 404 for r in PAGE} | {"auditor": 403, "admin": 403, "qa_ra": 302}),
            session=True,
            form={},
        ),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from medtrace.imports.services import import_create

    content = b"name,role\r\nMatrix hospital,hospital\r\n"
    job = import_create(
        kind="parties",
        name="matrix.csv",
        stream=io.BytesIO(content),
        dry_run=True,
        user=users["qa_ra"],
    )
    return {"import_job": job.pk}
