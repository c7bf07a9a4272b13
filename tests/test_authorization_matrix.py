"""The authorization matrix (issue 4, DESIGN §9): every endpoint, as every persona.

The endpoints are discovered, not listed by hand: every (method, path) operation of the NinjaAPI
at /api/v1/ and every route of the URL conf outside it (web pages, /epcis/, /accounts/, /i18n/,
the API's OpenAPI document and docs; /admin/ as one entry, its model pages are the admin's own
business). ``MATRIX`` below must have an entry for each one, and each entry must name a real
endpoint: a new endpoint without an entry fails ``test_every_endpoint_has_an_entry`` with its
name, so whoever adds an endpoint also decides who may call it.

Each entry is one or more requests (``Case``) with the expected status for each persona:

- ``anonymous``: no credentials. The API answers 401 (EPCIS: 401 problem), pages redirect to
  /accounts/login/ (302).
- the nine department roles (``procurement`` … ``admin``), one user each with only that group;
  ``admin`` is also a superuser and staff, as the demo's administrator is.
- the partner users ``supplier``, ``distributor``, ``hospital_a`` and ``hospital_b``: no role,
  their party set, scoped to their custody (``medtrace.accounts.scoping``).

API and EPCIS requests carry a bearer token with every scope the user may hold
(``scopes_for``), so that scopes do not mask the role checks; ``test_a_token_without_the_scope``
checks scopes separately. Pages use a signed-in session.

What a status means here. The point is the authorization answer, so writes send a body that is
valid for the request schema but need not make sense to the service:

- 401 / 302-to-login: not signed in; 403: signed in, not allowed (role or scope); 404: the
  object does not exist *for this user* (a partner outside its custody, never 403).
- 2xx, 409 or 422 *from the service* means the persona got past authorization: the permission
  check runs before the service validates (``masterdata.services._require``), so a 422 for a
  nonsense value still proves the persona may write. Schema validation (422 from ninja) runs
  before any check and is avoided by sending schema-valid bodies.

Every request runs in a savepoint that is rolled back, so the personas see the same world, and
the world is built once per module.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from medtrace.accounts.models import User
from medtrace.accounts.roles import Role
from medtrace.accounts.services import scopes_for, token_create
from medtrace.api import api

ANON = "anonymous"
ROLES: tuple[str, ...] = tuple(str(r) for r in Role)
PARTNERS = ("supplier", "distributor", "hospital_a", "hospital_b")
PERSONAS: tuple[str, ...] = (ANON, *ROLES, *PARTNERS)
WRITERS_NOTE = "2xx/409/422 from the service = allowed (see the module docstring)"


def expect(anon: int, staff: int, partners: int | None = None, **each: int) -> dict[str, int]:
    """Expected status per persona: ``anon``, every role ``staff``, every partner ``partners``
    (default: like staff), then per-persona exceptions (``auditor=403``, ``hospital_b=404``)."""
    unknown = set(each) - set(PERSONAS)
    assert not unknown, f"unknown personas {unknown}"
    out = {ANON: anon}
    out.update({role: staff for role in ROLES})
    out.update({p: staff if partners is None else partners for p in PARTNERS})
    out.update(each)
    return out


@dataclass(frozen=True)
class Case:
    """One request: ``url`` is formatted with the world's values (``{unit_a}``, ...)."""

    method: str
    url: str
    expected: dict[str, int]
    body: Any = None
    session: bool = False  # a signed-in browser instead of a bearer token
    form: dict[str, str] | None = field(default=None)  # a form POST instead of JSON
    login: bool = True  # anonymous 302s must go to a login page


# The matrix ------------------------------------------------------------------------------------

MATRIX: dict[str, list[Case]] = {}


def only(
    roles: set[str] | tuple[str, ...],
    yes: int,
    *,
    no: int = 403,
    anon: int = 401,
    partners: int = 403,
    **each: int,
) -> dict[str, int]:
    """``yes`` for ``roles``, ``no`` for the other roles; partners and the rest as ``expect``."""
    return expect(anon, no, partners, **{r: yes for r in roles}, **each)


def add(key: str, *cases: Case) -> None:
    assert key not in MATRIX, key
    MATRIX[key] = list(cases)


def api_case(key: str, expected: dict[str, int], url: str | None = None, body: Any = None) -> None:
    """An API operation: ``url`` defaults to the key's path with the world's ids filled in."""
    method, _space, path = key.partition(" ")
    add(key, Case(method, url or path, expected, body=body))


PARTY_W = ("procurement", "sales", "qa_ra", "admin")
LOCATION_W = ("warehouse", "sales", "admin")
PRODUCT_W = ("qa_ra", "admin")
MATERIAL_W = ("procurement", "admin")
BOM_W = ("production", "qa_ra", "admin")
AUDIT_R = ("qa_ra", "auditor", "admin")
SIGNERS = tuple(r for r in ROLES if r != "auditor")
IMPLANT_R = ("service", "qa_ra", "admin")
REVEAL = ("qa_ra", "admin")
CAPTURERS = tuple(r for r in ROLES if r != "auditor")

SIGNED_IN = expect(401, 200)
STAFF_ONLY = expect(401, 200, 404)  # partners: not in their scope, so "not found"

# Master data. Partners read their own party and locations and the products of the units in
# their custody; materials and BOMs are the maker's design data (scoping.py). Writes need the
# role's add/change/delete permission; partner tokens cannot carry masterdata:write.
V = "/api/v1"
api_case("GET /api/v1/parties", SIGNED_IN)
api_case("POST /api/v1/parties", only(PARTY_W, 201), body={"name": "New", "role": "supplier"})
api_case(
    "GET /api/v1/parties/{party_id}",
    expect(401, 200, 404, hospital_a=200),
    url=V + "/parties/{hospital_a_id}",
)
api_case(
    "PATCH /api/v1/parties/{party_id}",
    only(PARTY_W, 200),
    url=V + "/parties/{supplier_id}",
    body={"city": "上海"},
)
api_case(
    "DELETE /api/v1/parties/{party_id}", only(PARTY_W, 409), url=V + "/parties/{hospital_b_id}"
)
api_case(
    "POST /api/v1/parties/{party_id}/licences",
    only(PARTY_W, 201),
    url=V + "/parties/{supplier_id}/licences",
    body={"kind": "business_licence", "number": "91310000MA1FL0001X"},
)
api_case("GET /api/v1/locations", SIGNED_IN)
api_case(
    "POST /api/v1/locations",
    only(LOCATION_W, 422),
    body={"party_id": "{maker_id}", "kind": "site", "code": "X", "name": "X", "gln": "1"},
)
api_case(
    "GET /api/v1/locations/{location_id}",
    expect(401, 200, 404, hospital_a=200),
    url=V + "/locations/{ward_id}",
)
api_case(
    "PATCH /api/v1/locations/{location_id}",
    only(LOCATION_W, 200),
    url=V + "/locations/{location_id}",
    body={"address": "1 Road"},
)
api_case(
    "DELETE /api/v1/locations/{location_id}",
    only(LOCATION_W, 204),
    url=V + "/locations/{ward_id}",
)
api_case("GET /api/v1/products", SIGNED_IN)
api_case(
    "POST /api/v1/products",
    only(PRODUCT_W, 422),
    body={
        "manufacturer_id": "{maker_id}",
        "name": "X",
        "model": "X",
        "nmpa_registration_no": "X",
        "risk_class": "II",
        "tracking": "serial",
        "identifiers": [],
        "udi_pi_elements": ["serial"],
    },
)
api_case(
    "GET /api/v1/products/{product_id}",
    expect(401, 200, 404, distributor=200, hospital_a=200, hospital_b=200),
    url=V + "/products/{stem_id}",
)
api_case(
    "PATCH /api/v1/products/{product_id}",
    only(PRODUCT_W, 200),
    url=V + "/products/{product_id}",
    body={"description": "new", "reason": "matrix"},
)
api_case(
    "DELETE /api/v1/products/{product_id}",
    only(PRODUCT_W, 409),  # a BOM refers to it
    url=V + "/products/{product_id}",
)
api_case(
    "POST /api/v1/products/{product_id}/identifiers",
    only(PRODUCT_W, 422),
    url=V + "/products/{product_id}/identifiers",
    body={"packaging_level": "case", "di": "1"},
)
api_case("GET /api/v1/materials", SIGNED_IN)
api_case(
    "POST /api/v1/materials",
    only(MATERIAL_W, 201),
    body={"code": "MX-NEW", "name": "New", "kind": "component", "tracking": "lot"},
)
api_case("GET /api/v1/materials/{material_id}", STAFF_ONLY, url=V + "/materials/{material_id}")
api_case(
    "PATCH /api/v1/materials/{material_id}",
    only(MATERIAL_W, 200),
    url=V + "/materials/{material_id}",
    body={"name_en": "Resin", "reason": "matrix"},
)
api_case(
    "DELETE /api/v1/materials/{material_id}",
    only(MATERIAL_W, 409),  # a BOM uses it
    url=V + "/materials/{material_id}",
)
api_case(
    "POST /api/v1/materials/{material_id}/suppliers",
    only(MATERIAL_W, 422),  # the supplier is already an approved source
    url=V + "/materials/{material_id}/suppliers",
    body={"supplier_id": "{supplier_id}"},
)
api_case("GET /api/v1/boms", SIGNED_IN)
api_case(
    "POST /api/v1/boms",
    only(BOM_W, 422),  # a BOM needs lines
    body={"product_id": "{stem_id}", "version": "A", "lines": []},
)
api_case("GET /api/v1/boms/{bom_id}", STAFF_ONLY, url=V + "/boms/{bom_id}")
api_case(
    "DELETE /api/v1/boms/{bom_id}",
    only(BOM_W, 422),  # a BOM is a regulated record: no reason given
    url=V + "/boms/{bom_id}",
)
api_case(
    "POST /api/v1/boms/{bom_id}/lines",
    only(BOM_W, 422),  # the material is already on it
    url=V + "/boms/{bom_id}/lines",
    body={"material_id": "{material_id}", "quantity": "2"},
)
api_case("POST /api/v1/boms/{bom_id}/release", only(BOM_W, 200), url=V + "/boms/{bom_id}/release")

# Identify and labels: any signed-in person may parse a UDI (the GTIN -> product facts are the
# public UDI database's); labels are for staff (partner tokens cannot carry labels:read).
api_case("GET /api/v1/identify", SIGNED_IN, url=V + "/identify?udi=(01){gtin}(21)MX-A")
api_case(
    "GET /api/v1/labels", expect(401, 200, 403), url=V + "/labels?udi=(01){gtin}(21)MX-A&format=svg"
)
api_case(
    "GET /api/v1/products/{product_id}/label",
    expect(401, 200, 403),
    url=V + "/products/{stem_id}/label?serial=MX-A&format=svg",
)

# Trace: every department reads traces; partners only within their custody (404 outside).
add(
    "GET /api/v1/units/{path:id}/timeline",
    Case(
        "GET",
        V + "/units/{unit_a_q}/timeline",
        expect(401, 200, 404, distributor=200, hospital_a=200),
    ),
    Case("GET", V + "/units/{unit_b_q}/timeline", expect(401, 200, 404, hospital_b=200)),
)
add(
    "GET /api/v1/trace/backward",
    Case(
        "GET",
        V + "/trace/backward?id={unit_a_q}",
        expect(401, 200, 404, distributor=200, hospital_a=200),
    ),
    Case("GET", V + "/trace/backward?id={unit_b_q}", expect(401, 200, 404, hospital_b=200)),
)
add(
    "GET /api/v1/trace/forward",
    Case("GET", V + "/trace/forward?id={lot_q}", SIGNED_IN),  # the lot reached each of them
    Case("GET", V + "/trace/forward?id={unit_b_q}", expect(401, 200, 404, hospital_b=200)),
)

# Audit trail and e-signatures.
api_case("GET /api/v1/audit", only(AUDIT_R, 200))
api_case("GET /api/v1/audit/verify", only(AUDIT_R, 200))
RECORD = V + "/records/masterdata.product/{product_id}"
# Partner tokens cannot carry audit:read or records:sign (403 for any record, so nothing leaks);
# a partner's session gets 404 (the record pages below).
STAFF_RECORDS = expect(401, 200, 403)
api_case(
    "GET /api/v1/records/{object_type}/{object_id}/history", STAFF_RECORDS, url=RECORD + "/history"
)
api_case(
    "GET /api/v1/records/{object_type}/{object_id}/signatures",
    STAFF_RECORDS,
    url=RECORD + "/signatures",
)
api_case(
    "POST /api/v1/records/{object_type}/{object_id}/signatures",
    only(SIGNERS, 422),  # wrong password: 422 for those who may sign
    url=RECORD + "/signatures",
    body={"meaning": "reviewed", "password": "wrong"},
)
api_case("GET /api/v1/records/{object_type}/{object_id}/pdf", STAFF_RECORDS, url=RECORD + "/pdf")
api_case(
    "POST /api/v1/users/{username}/unlock-signing",
    only(("qa_ra", "admin"), 422),  # not locked
    url=V + "/users/mx_qc/unlock-signing",
)

# Implant records (DESIGN §8): service records them, QA/RA and admin also correct and reveal;
# a hospital sees its own masked records (another hospital's: 404), other partners none.
api_case("GET /api/v1/implants", only(IMPLANT_R, 200, auditor=200, partners=200))
api_case(
    "POST /api/v1/implants/search",
    only(IMPLANT_R, 200, auditor=200, partners=200),
    body={"unit": "{unit_a}"},
)
api_case(
    "POST /api/v1/implants",
    only(IMPLANT_R, 409),  # the unit already has a record
    body={
        "udi": "(01){gtin}(21)MX-A",
        "hospital_id": "{hospital_a_id}",
        "implanted_on": "2025-03-21",
        "patient_name": "李四",
        "patient_id_number": "E12345678",
    },
)
api_case(
    "GET /api/v1/implants/{record_id}",
    only(IMPLANT_R, 200, auditor=200, partners=404, hospital_a=200),
    url=V + "/implants/{implant_a}",
)
api_case(
    "PATCH /api/v1/implants/{record_id}",
    only(("qa_ra", "admin"), 200, partners=404, hospital_a=403),
    url=V + "/implants/{implant_a}",
    body={"reason": "matrix", "surgeon": "王医生"},
)
api_case(
    "POST /api/v1/implants/{record_id}/reveal",
    only(REVEAL, 200),  # partner tokens cannot carry implants:reveal
    url=V + "/implants/{implant_a}/reveal",
    body={"reason": "matrix"},
)

# Serial allocation: every department reads a product's serial rule, QA/RA (and admin) set it,
# production (and admin) allocate. Partners: 404 for a read (the maker's production data);
# their tokens cannot carry masterdata:write or production:write (403).
SERIAL_RULE = V + "/products/{product_id}/serial-rule"
api_case("GET /api/v1/products/{product_id}/serial-rule", STAFF_ONLY, url=SERIAL_RULE)
api_case(
    "PUT /api/v1/products/{product_id}/serial-rule",
    only(("qa_ra", "admin"), 200),
    url=SERIAL_RULE,
    body={"prefix": "MX", "sequence_width": 7, "reason": "matrix"},
)
api_case(
    "POST /api/v1/products/{product_id}/serials",
    only(("production", "admin"), 201),
    url=V + "/products/{product_id}/serials",
    body={"count": 2, "work_order_ref": "WO-MX"},
)

# Where the code answers otherwise than the rules above, pending a decision outside this test
# (the owner's file was mid-edit): (key, case url, persona) -> (status now, why). The matrix
# test expects the status now, and fails once the rule holds, so that the entry is removed.
GAPS: dict[tuple[str, str, str], tuple[int, str]] = {}

# The API's own documents are public.
add("/api/v1/openapi.json", Case("GET", V + "/openapi.json", expect(200, 200)))
add("/api/v1/docs", Case("GET", V + "/docs", expect(200, 200)))
add("/api/v1/", Case("GET", V + "/", expect(404, 404)))

# EPCIS REST binding. Queries: everyone signed in, partners scoped to their custody. Capture:
# internal departments (partner tokens cannot carry epcis:capture; the auditor writes nothing).
E = "/epcis"
NEW_EVENT = {
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
    "type": "ObjectEvent",
    "eventID": "urn:uuid:00000000-0000-4000-8000-00000000a001",
    "eventTime": "2025-03-09T09:00:00+08:00",
    "eventTimeZoneOffset": "+08:00",
    "action": "ADD",
    "bizStep": "commissioning",
    "disposition": "active",
    "epcList": ["urn:epc:id:sgtin:6901234.000031.MX-NEW"],
}
NEW_DOCUMENT = {
    "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
    "type": "EPCISDocument",
    "schemaVersion": "2.0",
    "creationDate": "2025-03-09T09:00:00Z",
    "epcisBody": {"eventList": [NEW_EVENT]},
}
add("/epcis/", Case("GET", E + "/", SIGNED_IN))
add(
    "/epcis/capture",
    Case("GET", E + "/capture", only(ROLES, 200)),
    Case("POST", E + "/capture", only(CAPTURERS, 202), body=NEW_DOCUMENT),
)
add("/epcis/capture/<str:capture_id>", Case("GET", E + "/capture/{capture_id}", only(ROLES, 200)))
add(
    "/epcis/events",
    Case("GET", E + "/events", SIGNED_IN),
    Case("POST", E + "/events", only(CAPTURERS, 201), body=NEW_EVENT),
)
add(
    "/epcis/events/<path:event_id>",
    Case("GET", E + "/events/{event_a}", expect(401, 200, 404, distributor=200, hospital_a=200)),
    Case("GET", E + "/events/{event_b}", expect(401, 200, 404, hospital_b=200)),
)
for name, value in (
    ("eventTypes", "ObjectEvent"),
    ("bizSteps", "receiving"),
    ("bizLocations", None),
    ("readPoints", None),
    ("dispositions", "active"),
):
    add(f"/epcis/{name}", Case("GET", f"{E}/{name}", SIGNED_IN))
    if value is None:  # no event names one: 404 for every signed-in person
        item, events = expect(401, 404), SIGNED_IN  # no such member; its events: none
        value = "urn:epc:id:sgln:6901234.99999.0"  # a place no event of the world names
    else:
        item = events = SIGNED_IN
    add(f"/epcis/{name}/<path:value>", Case("GET", f"{E}/{name}/{value}", item))
    add(f"/epcis/{name}/<path:value>/events", Case("GET", f"{E}/{name}/{value}/events", events))
add("/epcis/epcs", Case("GET", E + "/epcs", SIGNED_IN))
add(
    "/epcis/epcs/<path:value>",
    Case("GET", E + "/epcs/{unit_a}", expect(401, 200, 404, distributor=200, hospital_a=200)),
    Case("GET", E + "/epcs/{unit_b}", expect(401, 200, 404, hospital_b=200)),
)
add(
    "/epcis/epcs/<path:value>/events",
    Case(
        "GET", E + "/epcs/{unit_a}/events", expect(401, 200, 404, distributor=200, hospital_a=200)
    ),
    Case("GET", E + "/epcs/{unit_b}/events", expect(401, 200, 404, hospital_b=200)),
)
add(
    "/epcis/queries",
    Case("GET", E + "/queries", SIGNED_IN),
    Case("POST", E + "/queries", expect(401, 201), body={"name": "mx_new", "query": {}}),
)
PARTNER_QUERY = expect(401, 200, 404, hospital_a=200)  # a partner sees its own party's queries
add(
    "/epcis/queries/<str:name>",
    Case("GET", E + "/queries/mx_internal", STAFF_ONLY),
    Case("GET", E + "/queries/mx_hospital_a", PARTNER_QUERY),
    # only its creator or an administrator deletes a query
    Case("DELETE", E + "/queries/mx_hospital_a", expect(401, 403, 404, admin=204, hospital_a=204)),
)
add(
    "/epcis/queries/<str:name>/events",
    Case("GET", E + "/queries/mx_internal/events", STAFF_ONLY),
    Case("GET", E + "/queries/mx_hospital_a/events", PARTNER_QUERY),
)
add(
    "/epcis/queries/<str:name>/subscriptions",
    Case("GET", E + "/queries/mx_hospital_a/subscriptions", PARTNER_QUERY),
    Case(
        "POST",
        E + "/queries/mx_internal/subscriptions",
        expect(401, 201, 404),
        body={"dest": "https://client.example.com/cb2", "stream": True},
    ),
)
# A subscription is its creator's (an administrator sees all); others get 404.
add(
    "/epcis/queries/<str:name>/subscriptions/<str:subscription_id>",
    Case(
        "GET",
        E + "/queries/mx_hospital_a/subscriptions/{sub_hospital_a}",
        expect(401, 404, admin=200, hospital_a=200),
    ),
    Case(
        "DELETE",
        E + "/queries/mx_internal/subscriptions/{sub_internal}",
        expect(401, 404, qa_ra=204, admin=204),
    ),
)
add("/epcis/nextPageToken/<path:token>", Case("DELETE", E + "/nextPageToken/x", expect(401, 501)))
add("/epcis/<path:rest>", Case("GET", E + "/nothing-here", expect(404, 404)))

# Pages (a signed-in session; anonymous visitors are sent to /accounts/login/).
PAGES = expect(302, 200)
add("/", Case("GET", "/", expect(302, 200, 302), session=True))  # partners: to their portal
add("/products/", Case("GET", "/products/", PAGES, session=True))
add(
    "/products/<int:pk>/",
    Case("GET", "/products/{product_id}/", expect(302, 200, 404), session=True),
    Case(
        "GET",
        "/products/{stem_id}/",
        expect(302, 200, 404, distributor=200, hospital_a=200, hospital_b=200),
        session=True,
    ),
)
add(
    "/products/<int:pk>/label.<str:fmt>",
    Case("GET", "/products/{product_id}/label.svg?serial=X1", expect(302, 200, 404), session=True),
)
add(
    "/scan/",
    Case(
        "GET",
        "/scan/?code=(01){gtin}(21)MX-A",
        expect(302, 302, 302, supplier=200, hospital_b=200),
        session=True,
    ),
)
add(
    "/trace/",
    Case(
        "GET",
        "/trace/?id={unit_a_q}",
        expect(302, 200, 404, distributor=200, hospital_a=200),
        session=True,
    ),
    Case("GET", "/trace/?id={unit_b_q}", expect(302, 200, 404, hospital_b=200), session=True),
)
add("/audit/", Case("GET", "/audit/", only(AUDIT_R, 200, anon=302), session=True))
PAGE_RECORD = "/records/masterdata.product/{product_id}/"
add(
    "/records/<str:object_type>/<str:object_id>/",
    Case("GET", PAGE_RECORD, expect(302, 200, 404), session=True),
    Case(
        "POST",
        PAGE_RECORD,
        only(SIGNERS, 422, anon=302, partners=404),  # wrong password
        session=True,
        form={"meaning": "reviewed", "password": "wrong"},
    ),
)
add(
    "/records/<str:object_type>/<str:object_id>/pdf/",
    Case("GET", PAGE_RECORD + "pdf/", expect(302, 200, 404), session=True),
)
add(
    "/implants/",
    Case(
        "GET", "/implants/", only(IMPLANT_R, 200, auditor=200, anon=302, partners=200), session=True
    ),
)
add(
    "/implants/<int:pk>/reveal/",
    Case(
        "POST",
        "/implants/{implant_a}/reveal/",
        only(REVEAL, 200, anon=302, partners=404, hospital_a=403),
        session=True,
        form={"reason": "matrix"},
    ),
)
add("/account/tokens/", Case("GET", "/account/tokens/", PAGES, session=True))
add(
    "/account/tokens/<int:pk>/revoke/",
    Case(
        "POST",
        "/account/tokens/{token_a}/revoke/",
        expect(302, 404, hospital_a=302),  # someone else's token is not found
        session=True,
        form={},
    ),
)

# Django's auth views and the language switch.
add("/accounts/login/", Case("GET", "/accounts/login/", expect(200, 200), session=True))
add("/accounts/logout/", Case("GET", "/accounts/logout/", expect(405, 405), session=True))
add(
    "/accounts/password_change/",
    Case("GET", "/accounts/password_change/", PAGES, session=True),
)
add(
    "/accounts/password_change/done/",
    Case("GET", "/accounts/password_change/done/", PAGES, session=True),
)
add(
    "/accounts/password_reset/",
    Case("GET", "/accounts/password_reset/", expect(200, 200), session=True),
)
add(
    "/accounts/password_reset/done/",
    Case("GET", "/accounts/password_reset/done/", expect(200, 200), session=True),
)
add(
    "/accounts/reset/<uidb64>/<token>/",
    Case("GET", "/accounts/reset/MQ/bad-token/", expect(200, 200), session=True),
)
add("/accounts/reset/done/", Case("GET", "/accounts/reset/done/", expect(200, 200), session=True))
add("/i18n/setlang/", Case("GET", "/i18n/setlang/", expect(302, 302), session=True, login=False))

# The Django admin: staff only (the administrator); everyone else is sent to its login.
add("/admin/", Case("GET", "/admin/", expect(302, 302, admin=200), session=True))


# The lifecycle apps keep their entries in tests/matrix/<app>.py: each module defines
# ``register(m)`` (``m`` is this module: use m.api_case, m.add, m.Case, m.only, m.expect, m.V, ...)
# and may define ``build(w, users, values) -> dict`` adding world values its URLs and bodies use.
MATRIX_PARTS = tuple(
    importlib.import_module(f"tests.matrix.{path.stem}")
    for path in sorted((Path(__file__).parent / "matrix").glob("*.py"))
    if not path.stem.startswith("_")
)
for _part in MATRIX_PARTS:
    _part.register(sys.modules[__name__])


# Discovery -------------------------------------------------------------------------------------


def api_operations() -> set[str]:
    """'METHOD /api/v1/path' of every NinjaAPI operation (path parameters as declared)."""
    found = set()
    for _prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for method in operation.methods:
                    found.add(f"{method} /api/v1{path}")
    return found


def _walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def url_routes() -> set[str]:
    """'/route' of every URL pattern that is not a NinjaAPI operation; /admin/ as one."""
    found = set()
    for route, callback in _walk(get_resolver().url_patterns, "/"):
        if route.startswith("/admin/"):
            continue
        # ninja mounts each path as one Django view bound to its PathView
        if "PathView.get_view" in getattr(callback, "__qualname__", ""):
            continue
        found.add(route)
    found.add("/admin/")
    return found


def discovered() -> set[str]:
    return api_operations() | url_routes()


# The world -------------------------------------------------------------------------------------


def _staff(username: str, role: str) -> User:
    user = User.objects.create_user(
        username=username,
        password=None,  # unusable: fast to create, and every signing password is wrong
        printed_name=username.title(),
        is_superuser=role == Role.ADMIN,
        is_staff=role == Role.ADMIN,
    )
    user.groups.add(Group.objects.get(name=role))
    return user


def _partner(username: str, party: Any) -> User:
    return User.objects.create_user(
        username=username, password=None, printed_name=username.title(), party=party
    )


@dataclass
class World:
    values: dict[str, Any]
    users: dict[str, User]
    token_clients: dict[str, Client]
    session_clients: dict[str, Client]

    def client(self, persona: str, *, session: bool) -> Client:
        if persona == ANON:
            return Client()
        return (self.session_clients if session else self.token_clients)[persona]


def _build() -> World:
    from medtrace.ledger.epcis_query_subscriptions import named_query_create, subscription_create
    from medtrace.ledger.models import CaptureJob, Event
    from medtrace.lib import udi
    from medtrace.masterdata.tests import factories as md
    from medtrace.production.services import serial_rule_set
    from medtrace.service import services as implants
    from medtrace.trace.tests import factories as f

    w = f.world()
    hospital_b = md.party(role="hospital", prefix="6920004", name="第二人民医院")
    users = {role: _staff(f"mx_{role}", role) for role in ROLES}
    users["supplier"] = _partner("mx_supplier", w.supplier)
    users["distributor"] = _partner("mx_distributor", w.distributor)
    users["hospital_a"] = _partner("mx_hospital_a", w.hospital)
    users["hospital_b"] = _partner("mx_hospital_b", hospital_b)

    stem = md.product(
        manufacturer=w.maker,
        name="髋关节股骨柄",
        model="FS-MX",
        risk_class="III",
        implantable=True,
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 31)}],
    )
    gtin = stem.identifiers.get(packaging_level="unit").di
    unit_a, unit_b = udi.sgtin_urn(gtin, "MX-A", 7), udi.sgtin_urn(gtin, "MX-B", 7)
    lot = w.resin_lot("MX-L")
    maker, supplier = w.pgln(w.maker), w.pgln(w.supplier)
    distributor, hosp_a, hosp_b = w.pgln(w.distributor), w.pgln(w.hospital), w.pgln(hospital_b)

    def moved(epc: str, day: int, frm: str, to: str) -> dict[str, Any]:
        return f.obj(
            [epc],
            f.t(day),
            biz_step="receiving",
            sources=[("possessing_party", frm)],
            destinations=[("possessing_party", to), ("owning_party", to)],
        )

    received = f.obj_lots(
        [(lot, 5)],
        f.t(1),
        biz_step="receiving",
        sources=[("possessing_party", supplier)],
        destinations=[("possessing_party", maker)],
    )
    at_a, at_b = moved(unit_a, 6, distributor, hosp_a), moved(unit_b, 5, maker, hosp_b)
    f.capture(
        received,
        f.transform(f.t(2), input_lots=[(lot, 2)], outputs=[unit_a, unit_b]),
        moved(unit_a, 5, maker, distributor),
        at_a,
        at_b,
    )
    bom = md.bom(product_=w.device, lines=[(w.resin, "1")])
    serial_rule_set(product=w.device, data={"prefix": "MX", "sequence_width": 6}, user=None)
    implant_a, implant_b = (
        implants.implant_record_create(
            data={
                "udi": f"(01){gtin}(21){serial}",
                "hospital_id": party.pk,
                "implanted_on": "2025-03-20",
                "patient_name": "张三丰",
                "patient_id_number": "11010519491231002X",
                "patient_phone": "13812345678",
            },
            user=None,
        )
        for serial, party in (("MX-A", w.hospital), ("MX-B", hospital_b))
    )
    internal_query = named_query_create(
        data={"name": "mx_internal", "query": {}}, user=users["qa_ra"]
    )
    partner_query = named_query_create(
        data={"name": "mx_hospital_a", "query": {}}, user=users["hospital_a"]
    )
    subscriptions = {
        key: subscription_create(
            query=query,
            data={"dest": "https://client.example.com/cb", "stream": True},
            user=users[owner],
        )
        for key, query, owner in (
            ("sub_internal", internal_query, "qa_ra"),
            ("sub_hospital_a", partner_query, "hospital_a"),
        )
    }

    token_clients, session_clients, tokens = {}, {}, {}
    for persona, user in users.items():
        token, raw = token_create(user=user, scopes=sorted(scopes_for(user)), name="matrix")
        tokens[persona] = token
        token_clients[persona] = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        session = Client()
        session.force_login(user)
        session_clients[persona] = session

    event_id = {
        epc: Event.objects.get(event_id=doc["eventID"]).event_id for epc, doc in ((unit_a, at_a),)
    }
    values: dict[str, Any] = {
        "maker_id": w.maker.pk,
        "supplier_id": w.supplier.pk,
        "hospital_a_id": w.hospital.pk,
        "hospital_b_id": hospital_b.pk,
        "location_id": w.plant.pk,
        "ward_id": w.ward.pk,
        "product_id": w.device.pk,
        "stem_id": stem.pk,
        "material_id": w.resin.pk,
        "bom_id": bom.pk,
        "gtin": gtin,
        "unit_a": unit_a,
        "unit_b": unit_b,
        "unit_a_q": quote(unit_a, safe=""),
        "unit_b_q": quote(unit_b, safe=""),
        "lot": lot,
        "lot_q": quote(lot, safe=""),
        "event_a": event_id[unit_a],
        "event_b": at_b["eventID"],
        "capture_id": CaptureJob.objects.order_by("created_at").first().pk,  # type: ignore[union-attr]
        "implant_a": implant_a.pk,
        "implant_b": implant_b.pk,
        "token_a": tokens["hospital_a"].pk,
        "sub_internal": subscriptions["sub_internal"].pk,
        "sub_hospital_a": subscriptions["sub_hospital_a"].pk,
        "gln_b": hospital_b.gln,
    }
    for part in MATRIX_PARTS:
        if hasattr(part, "build"):
            values.update(part.build(w, users, values))
    return World(values, users, token_clients, session_clients)


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """One world for the module, in a transaction rolled back at its end; each test runs in a
    savepoint inside it (pytest-django's ``db``), each request in one more."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            from django.core.cache import cache

            cache.clear()
            yield _build()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _fill(value: Any, values: dict[str, Any]) -> Any:
    """``value`` with the world's values: "{x}" alone becomes the value itself (an id stays an
    int), other strings are formatted."""
    if isinstance(value, str):
        if value.startswith("{") and value.endswith("}") and value[1:-1] in values:
            return values[value[1:-1]]
        return value.format(**values)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def _call(world: World, case: Case, persona: str) -> int:
    """The status ``persona`` gets for ``case``; whatever it wrote is rolled back."""
    client = world.client(persona, session=case.session)
    url = case.url.format(**world.values)
    with transaction.atomic():
        if case.form is not None:
            response = client.generic(
                case.method,
                url,
                urlencode(_fill(case.form, world.values)),
                content_type="application/x-www-form-urlencoded",
            )
        else:
            body = "" if case.body is None else json.dumps(_fill(case.body, world.values))
            response = client.generic(case.method, url, body, content_type="application/json")
        transaction.set_rollback(True)
    if response.status_code == 302 and persona == ANON and case.login:
        assert response["Location"].startswith(("/accounts/login/", "/admin/login/")), url
    return int(response.status_code)


# The tests -------------------------------------------------------------------------------------


def test_every_endpoint_has_an_entry() -> None:
    missing = sorted(discovered() - set(MATRIX))
    assert not missing, (
        "These endpoints have no entry in tests/test_authorization_matrix.py MATRIX; add one "
        "with the expected status for every persona:\n  " + "\n  ".join(missing)
    )


def test_every_entry_names_a_real_endpoint() -> None:
    stale = sorted(set(MATRIX) - discovered())
    assert not stale, "MATRIX entries for endpoints that no longer exist:\n  " + "\n  ".join(stale)


def test_every_gap_names_a_case() -> None:
    cases = {(key, case.url) for key, entry in MATRIX.items() for case in entry}
    assert {(key, url) for key, url, _persona in GAPS} <= cases


def test_every_entry_covers_every_persona() -> None:
    for key, cases in MATRIX.items():
        assert cases, key
        for case in cases:
            assert set(case.expected) == set(PERSONAS), (key, case.url)


DUMP = os.environ.get("MATRIX_DUMP")


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(discovered() if DUMP else MATRIX))
def test_the_matrix(key: str, world: World) -> None:
    cases = MATRIX.get(key) or []
    if DUMP and not cases:
        print("\nNO ENTRY", key)
        return
    failures = []
    for case in cases:
        got = {persona: _call(world, case, persona) for persona in PERSONAS}
        if DUMP:
            print(f"\n{key} {case.method} {case.url}: {got}")
        wrong = {}
        for persona in PERSONAS:
            gap = GAPS.get((key, case.url, persona))
            if gap is not None and got[persona] == case.expected[persona]:
                failures.append(
                    f"{case.method} {case.url}: {persona} now gets the status the "
                    f"rules ask for; remove its GAPS entry ({gap[1]})"
                )
            elif got[persona] != (gap[0] if gap else case.expected[persona]):
                wrong[persona] = (gap[0] if gap else case.expected[persona], got[persona])
        if wrong:
            failures.append(f"{case.method} {case.url}: (expected, got) {wrong}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url", "scope"),
    [
        ("GET", "/api/v1/parties", "masterdata:read"),
        ("PATCH", "/api/v1/locations/{location_id}", "masterdata:write"),
        ("GET", "/api/v1/labels?udi=(01){gtin}(21)MX-A&format=svg", "labels:read"),
        ("GET", "/api/v1/trace/forward?id={lot_q}", "trace:read"),
        ("GET", "/api/v1/audit", "audit:read"),
        ("POST", "/api/v1/users/mx_qc/unlock-signing", "records:sign"),
        ("GET", "/api/v1/implants", "implants:read"),
        ("POST", "/api/v1/implants/{implant_a}/reveal", "implants:reveal"),
        ("GET", "/epcis/events", "epcis:query"),
        ("POST", "/epcis/capture", "epcis:capture"),
    ],
)
def test_a_token_without_the_scope_gets_403(
    method: str, url: str, scope: str, world: World
) -> None:
    """Admin may do all of these; a token lacking the one scope still gets 403."""
    others = sorted(s for s in scopes_for(world.users["admin"]) if s != scope)
    _token, raw = token_create(user=world.users["admin"], scopes=others)
    body = {"reason": "matrix"} if "reveal" in url else NEW_DOCUMENT if "capture" in url else {}
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").generic(
        method, url.format(**world.values), json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 403, response.content
    assert scope in response.content.decode()
