"""Warehouse (issue 5 item 4): every department reads stock and warehouse documents; the
warehouse (and the administrator) moves, packs, picks and counts; sales may raise pick lists.
Warehouse documents are internal: a partner gets 404 for a document, 403 for a list, and its
token cannot carry warehouse:write (403)."""

from __future__ import annotations

from typing import Any

WORK = ("warehouse", "admin")


def register(m: Any) -> None:
    v = m.V
    doc = m.expect(401, 200, 404)
    lst = m.expect(401, 200, 403)
    page = m.expect(302, 200, 403)

    m.api_case("POST /api/v1/moves", m.only(WORK, 201),
               body={"scans": ["{wh_loose}"], "to_location": "{wh_store}"})  # fmt: skip
    m.api_case("GET /api/v1/moves/{id}", doc, url=v + "/moves/{wh_move}")
    m.api_case("POST /api/v1/containers", m.only(WORK, 201),
               body={"level": "case", "children": ["{wh_loose}"]})  # fmt: skip
    m.api_case(
        "GET /api/v1/containers/{path:sscc}/label.{fmt}",
        doc,
        url=v + "/containers/{wh_sscc}/label.pdf",
    )
    m.api_case(
        "POST /api/v1/containers/{path:sscc}/pack",
        m.only(WORK, 200),
        url=v + "/containers/{wh_sscc}/pack",
        body={"children": ["{wh_loose}"]},
    )
    m.api_case(
        "POST /api/v1/containers/{path:sscc}/unpack",
        m.only(WORK, 200),
        url=v + "/containers/{wh_sscc}/unpack",
        body={},
    )
    m.api_case(
        "POST /api/v1/containers/{path:sscc}/close",
        m.only(WORK, 200),
        url=v + "/containers/{wh_sscc}/close",
    )
    m.api_case("GET /api/v1/containers/{path:sscc}", doc, url=v + "/containers/{wh_sscc_q}")
    m.api_case("GET /api/v1/stock", lst, url=v + "/stock?location={wh_store}")
    m.api_case("POST /api/v1/pick-lists", m.only((*WORK, "sales"), 201),
               body={"product_id": "{product_id}", "quantity": 1})  # fmt: skip
    m.api_case("GET /api/v1/pick-lists", lst)
    m.api_case("GET /api/v1/pick-lists/{id}", doc, url=v + "/pick-lists/{wh_pick_list}")
    m.api_case(
        "POST /api/v1/pick-lists/{id}/pick",
        m.only(WORK, 409),  # the unit is not released: the state machine answers
        url=v + "/pick-lists/{wh_pick_list}/pick",
        body={"scans": ["{wh_loose}"]},
    )
    m.api_case(
        "POST /api/v1/pick-lists/{id}/cancel",
        m.only(WORK, 200),
        url=v + "/pick-lists/{wh_pick_list}/cancel",
        body={"reason": "matrix"},
    )
    m.api_case("POST /api/v1/stock-counts", m.only(WORK, 201), body={"location": "{wh_bin}"})
    m.api_case("GET /api/v1/stock-counts/{id}", doc, url=v + "/stock-counts/{wh_count}")
    m.api_case(
        "POST /api/v1/stock-counts/{id}/scans",
        m.only(WORK, 200),
        url=v + "/stock-counts/{wh_count}/scans",
        body={"scans": ["{wh_loose}"]},
    )
    m.api_case(
        "POST /api/v1/stock-counts/{id}/reconcile",
        m.only(WORK, 200),
        url=v + "/stock-counts/{wh_count}/reconcile",
    )

    def pages(key: str, url: str, *writes: Any) -> None:
        m.add(key, m.Case("GET", url, page, session=True), *writes)

    no_page = m.only(WORK, 302, anon=302, no=403)
    pages("/warehouse/", "/warehouse/")
    pages(
        "/warehouse/move/",
        "/warehouse/move/",
        m.Case("POST", "/warehouse/move/", no_page, session=True,
               form={"action": "move", "item": "{wh_loose}", "to_location": "{wh_store}"}),
    )  # fmt: skip
    pages(
        "/warehouse/pack/",
        "/warehouse/pack/",
        m.Case("POST", "/warehouse/pack/", no_page, session=True,
               form={"action": "close", "item": "{wh_loose}", "level": "case"}),
    )  # fmt: skip
    pages(
        "/warehouse/containers/<str:sscc>/",
        "/warehouse/containers/{wh_sscc}/",
        m.Case("POST", "/warehouse/containers/{wh_sscc}/", no_page, session=True,
               form={"action": "unpack"}),
    )  # fmt: skip
    pages("/warehouse/containers/<str:sscc>/label.<str:fmt>",
          "/warehouse/containers/{wh_sscc}/label.png")  # fmt: skip
    pages(
        "/warehouse/pick-lists/",
        "/warehouse/pick-lists/",
        m.Case("POST", "/warehouse/pick-lists/", m.only((*WORK, "sales"), 302, anon=302),
               session=True, form={"product": "{product_id}", "quantity": "1"}),
    )  # fmt: skip
    pages(
        "/warehouse/pick-lists/<int:pk>/",
        "/warehouse/pick-lists/{wh_pick_list}/",
        m.Case("POST", "/warehouse/pick-lists/{wh_pick_list}/", m.only(WORK, 302, anon=302),
               session=True, form={"action": "cancel", "reason": "matrix"}),
    )  # fmt: skip
    pages(
        "/warehouse/counts/",
        "/warehouse/counts/",
        m.Case("POST", "/warehouse/counts/", m.only(WORK, 302, anon=302), session=True,
               form={"location": "{wh_bin}"}),
    )  # fmt: skip
    pages(
        "/warehouse/counts/<int:pk>/",
        "/warehouse/counts/{wh_count}/",
        m.Case("POST", "/warehouse/counts/{wh_count}/", m.only(WORK, 302, anon=302),
               session=True, form={"action": "reconcile"}),
    )  # fmt: skip


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import quote

    from medtrace.lifecycle import events as ev
    from medtrace.masterdata.tests import factories as md
    from medtrace.warehouse import services

    store = md.location(owner=w.maker, kind="warehouse", parent_id=w.warehouse.pk, code="MX-WH")
    bin_ = md.location(owner=w.maker, kind="bin", parent_id=store.pk, code="MX-WH-A01")
    packed, loose = ev.unit_epc(w.device, "MXW-1"), ev.unit_epc(w.device, "MXW-2")
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=[packed, loose],
                biz_step="commissioning",
                disposition="active",
                biz_location=bin_.sgln,
            )
        ],
        user=None,
    )
    case = services.container_create(user=None)
    services.container_pack(container=case, children=[packed], user=None)
    move = services.stock_move(scans=[case.epc], to_location=store, user=None)
    pick_list = services.pick_list_create(product=w.device, quantity=1, user=None)
    count = services.stock_count_create(location=bin_, user=None)
    return {
        "wh_store": str(store.pk),
        "wh_bin": str(bin_.pk),
        "wh_loose": loose,
        "wh_sscc": case.sscc,
        "wh_sscc_q": quote(f"(00){case.sscc}", safe=""),
        "wh_move": move.number,
        "wh_pick_list": pick_list.pk,
        "wh_count": count.pk,
    }
