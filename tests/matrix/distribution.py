"""Distribution (issue 5 item 5): every department reads orders, shipments and returns; sales
takes orders, ships, authorises returns and may record a receipt for the customer; the warehouse
ships and receives returns into quarantine (with service). A partner sees only the shipments,
orders and returns addressed to its own party (another party's: 404), records its own receipt
(partner:receive), and its token cannot carry distribution:write (403)."""

from __future__ import annotations

from typing import Any

SELL = ("sales", "admin")
SHIP = ("sales", "warehouse", "admin")
RMA = ("sales", "service", "admin")
RMA_IN = ("warehouse", "service", "admin")


def register(m: Any) -> None:
    v = m.V
    mine = m.expect(401, 200, 404, hospital_a=200)  # hospital_a's document
    theirs = m.expect(401, 200, 404, hospital_b=200)  # hospital_b's document
    lst = m.expect(401, 200)  # partners: their own, scoped

    m.api_case("GET /api/v1/sales-orders", lst)
    m.api_case(
        "POST /api/v1/sales-orders",
        m.only(SELL, 201),
        body={
            "customer_id": "{hospital_a_id}",
            "ship_to_id": "{ward_id}",
            "lines": [{"product_id": "{product_id}", "quantity": 1}],
        },
    )
    m.api_case("GET /api/v1/sales-orders/{order_id}", mine, url=v + "/sales-orders/{ds_order}")
    m.api_case(
        "POST /api/v1/sales-orders/{order_id}/confirm",
        m.only(SELL, 200),
        url=v + "/sales-orders/{ds_draft}/confirm",
    )
    m.api_case(
        "POST /api/v1/sales-orders/{order_id}/cancel",
        m.only(SELL, 200),
        url=v + "/sales-orders/{ds_draft}/cancel",
        body={"reason": "matrix"},
    )
    m.api_case(
        "POST /api/v1/sales-orders/{order_id}/close",
        m.only(SELL, 422),  # a draft is cancelled, not closed
        url=v + "/sales-orders/{ds_draft}/close",
        body={"reason": "matrix"},
    )
    m.api_case("GET /api/v1/shipments", lst)
    m.api_case(
        "POST /api/v1/shipments",
        m.only(SHIP, 201),
        body={"sales_order_id": "{ds_order}", "epcs": ["{ds_ready}"]},
    )
    m.api_case("GET /api/v1/shipments/{shipment_id}", mine, url=v + "/shipments/{ds_shipment}")
    m.api_case(
        "GET /api/v1/shipments/{shipment_id}/despatch-note.pdf",
        mine,
        url=v + "/shipments/{ds_shipment}/despatch-note.pdf",
    )
    m.api_case(
        "POST /api/v1/shipments/{shipment_id}/receipt",
        # the consignee; sales (and admin) may record it on the customer's behalf
        m.only(SELL, 201, partners=404, hospital_a=201),
        url=v + "/shipments/{ds_shipment}/receipt",
        body={"epcs": ["{ds_shipped}"]},
    )
    m.api_case("GET /api/v1/returns", lst)
    m.api_case(
        "POST /api/v1/returns",
        m.only(RMA, 201),
        body={"customer_id": "{hospital_a_id}", "epcs": ["{unit_a}"], "reason": "matrix"},
    )
    m.api_case("GET /api/v1/returns/{rma_id}", theirs, url=v + "/returns/{ds_rma}")
    m.api_case(
        "POST /api/v1/returns/{rma_id}/receive",
        m.only(RMA_IN, 200),
        url=v + "/returns/{ds_rma}/receive",
        body={},
    )
    m.api_case(
        "POST /api/v1/returns/{rma_id}/close",
        m.only(RMA, 422),  # not received yet
        url=v + "/returns/{ds_rma}/close",
        body={"note": "matrix"},
    )

    staff_page = m.expect(302, 200, 403)
    no = m.expect(302, 403)  # a POST that needs a permission nobody but ``yes`` has

    def allowed(roles: tuple[str, ...], status: int = 302) -> dict[str, int]:
        return m.only(roles, status, anon=302)

    m.add(
        "/distribution/",
        m.Case("GET", "/distribution/", m.expect(302, 200, 302), session=True),
    )
    m.add(
        "/distribution/orders/new/",
        m.Case("GET", "/distribution/orders/new/", staff_page, session=True),
        m.Case(
            "POST",
            "/distribution/orders/new/",
            allowed(SELL),
            session=True,
            form={
                "customer_id": "{hospital_a_id}",
                "ship_to_id": "{ward_id}",
                "product_0": "{product_id}",
                "quantity_0": "1",
            },
        ),
    )
    m.add(
        "/distribution/orders/<int:pk>/",
        m.Case("GET", "/distribution/orders/{ds_order}/", staff_page, session=True),
        m.Case(
            "POST",
            "/distribution/orders/{ds_draft}/",
            allowed(SELL),
            session=True,
            form={"action": "confirm"},
        ),
    )
    m.add(
        "/distribution/orders/<int:pk>/ship/",
        m.Case("GET", "/distribution/orders/{ds_order}/ship/", staff_page, session=True),
        m.Case(
            "POST",
            "/distribution/orders/{ds_order}/ship/",
            allowed(SHIP),
            session=True,
            form={"action": "ship", "item": "{ds_ready}"},
        ),
    )
    page_mine = m.expect(302, 200, 404, hospital_a=200)
    m.add(
        "/distribution/shipments/<int:pk>/",
        m.Case("GET", "/distribution/shipments/{ds_shipment}/", page_mine, session=True),
    )
    m.add(
        "/distribution/shipments/<int:pk>/despatch-note.pdf",
        m.Case(
            "GET",
            "/distribution/shipments/{ds_shipment}/despatch-note.pdf",
            page_mine,
            session=True,
        ),
    )
    m.add(
        "/distribution/incoming/",
        m.Case("GET", "/distribution/incoming/", m.expect(302, 403, 200), session=True),
    )
    m.add(
        "/distribution/incoming/<int:pk>/",
        m.Case(
            "GET",
            "/distribution/incoming/{ds_shipment}/",
            m.expect(302, 403, 404, hospital_a=200),
            session=True,
        ),
        m.Case(
            "POST",
            "/distribution/incoming/{ds_shipment}/",
            m.expect(302, 403, 404, hospital_a=302),
            session=True,
            form={"action": "confirm", "item": "{ds_shipped}"},
        ),
    )
    m.add(
        "/distribution/returns/",
        m.Case("GET", "/distribution/returns/", m.expect(302, 200), session=True),
        m.Case(
            "POST",
            "/distribution/returns/",
            allowed(RMA),
            session=True,
            form={"customer_id": "{hospital_a_id}", "scans": "{unit_a}", "reason": "matrix"},
        ),
    )
    m.add(
        "/distribution/returns/<int:pk>/",
        m.Case(
            "GET",
            "/distribution/returns/{ds_rma}/",
            m.expect(302, 200, 404, hospital_b=200),
            session=True,
        ),
        m.Case(
            "POST",
            "/distribution/returns/{ds_rma}/",
            m.only(RMA_IN, 302, anon=302, partners=404, hospital_b=403),
            session=True,
            form={"action": "receive", "scans": ""},
        ),
    )
    del no


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from datetime import date

    from django.contrib.auth.models import Group

    from medtrace.accounts.models import User
    from medtrace.distribution import services
    from medtrace.lifecycle import events as ev
    from medtrace.masterdata import services as md
    from medtrace.masterdata.models import Party
    from medtrace.masterdata.tests import factories as mdf
    from medtrace.quality.services import release_create

    hospital_b = Party.objects.get(pk=values["hospital_b_id"])
    far = date(2099, 12, 31)
    for party, number in ((w.hospital, "MX-A-001"), (hospital_b, "MX-B-001")):
        md.licence_add(
            party=party,
            data={"kind": "medical_institution_licence", "number": number, "expires_on": far},
            user=None,
        )
    mdf.location(owner=w.maker, kind="site", code="MX-QRN", name="Quarantine")
    # A product and a ship-to place of their own: shipping the world's device to the world's
    # ward would put it in hospital_a's custody and pin the ward, changing other entries.
    stem = mdf.product(
        manufacturer=w.maker,
        name="MX stem",
        model="MX-1",
        identifiers=[{"packaging_level": "unit", "di": mdf.gtin("6901234", 77)}],
    )
    dock = mdf.location(owner=w.hospital, kind="site", ref=31, name="MX receiving dock")
    ready, shipped = ev.unit_epc(stem, "MXD-1"), ev.unit_epc(stem, "MXD-2")
    ev.emit(
        [
            ev.object_event(
                action="ADD",
                epcs=[ready, shipped],
                biz_step="commissioning",
                disposition="active",
                biz_location=w.warehouse.sgln,
            )
        ],
        user=None,
    )
    qa = User.objects.create_user(username="mx_ds_qa", password="pw-mx", printed_name="QA")
    qa.groups.add(Group.objects.get(name="qa_ra"))
    release_create(targets=[ready, shipped], user=qa, password="pw-mx")
    order_data = {
        "customer_id": w.hospital.pk,
        "ship_to_id": dock.pk,
        "lines": [{"product_id": stem.pk, "quantity": 5}],
    }
    order = services.sales_order_confirm(
        order=services.sales_order_create(data=order_data, user=None), user=None
    )
    draft = services.sales_order_create(data=order_data, user=None)
    shipment = services.shipment_create(order=order, scans=[shipped], user=None)
    rma = services.rma_create(
        customer=hospital_b, scans=[values["unit_b"]], reason="matrix", user=None
    )
    return {
        "ds_order": order.pk,
        "ds_draft": draft.pk,
        "ds_shipment": shipment.pk,
        "ds_ready": ready,
        "ds_shipped": shipped,
        "ds_rma": rma.pk,
    }
