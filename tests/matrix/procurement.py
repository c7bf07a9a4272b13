"""Procurement: POs, goods receipts, material lots, incoming inspection, supplier qualification.

Everyone of our staff reads (view permissions of every role); procurement (and the admin) orders
and receives, QC, QA/RA (and the admin) inspect incoming material; certificate scans are licence
changes (procurement, sales, QA/RA, admin). Partner tokens cannot carry procurement:write. The
supplier partner reads the POs addressed to it (not drafts), its receipts and lots and its own
qualification; other partners get 404 (lists: empty). The pages are for our staff only.
"""

from __future__ import annotations

import json
from typing import Any

BUY = ("procurement", "admin")
IQC = ("qc", "qa_ra", "admin")
LICENCE_W = ("procurement", "sales", "qa_ra", "admin")


def register(m: Any) -> None:
    V = m.V
    supplier_reads = m.expect(401, 200, 404, supplier=200)
    m.api_case("GET /api/v1/purchase-orders", m.expect(401, 200))
    m.api_case(
        "POST /api/v1/purchase-orders",
        m.only(BUY, 201),
        body={
            "supplier_id": "{supplier_id}",
            "lines": [{"material_id": "{material_id}", "quantity": "5"}],
        },
    )
    m.api_case(
        "GET /api/v1/purchase-orders/{order_id}",
        supplier_reads,
        url=V + "/purchase-orders/{po_released}",
    )
    m.api_case(
        "POST /api/v1/purchase-orders/{order_id}/release",
        m.only(BUY, 200),
        url=V + "/purchase-orders/{po_draft}/release",
    )
    m.api_case(
        "POST /api/v1/purchase-orders/{order_id}/cancel",
        m.only(BUY, 200),
        url=V + "/purchase-orders/{po_draft}/cancel",
        body={"reason": "matrix"},
    )
    m.api_case(
        "POST /api/v1/purchase-orders/{order_id}/close",
        m.only(BUY, 200),
        url=V + "/purchase-orders/{po_released}/close",
        body={"reason": "matrix"},
    )
    m.add(
        "POST /api/v1/purchase-orders/{order_id}/receipts",
        m.Case(
            "POST",
            V + "/purchase-orders/{po_released}/receipts",
            m.only(BUY, 422),  # no CoC attached: the service's 422, after every check
            form={"receipt": "{receipt_json}"},
        ),
    )
    m.api_case(
        "GET /api/v1/goods-receipts/{receipt_id}",
        supplier_reads,
        url=V + "/goods-receipts/{gr_id}",
    )
    m.api_case(
        "GET /api/v1/goods-receipts/{receipt_id}/coc",
        supplier_reads,
        url=V + "/goods-receipts/{gr_id}/coc",
    )
    m.api_case(
        "POST /api/v1/goods-receipt-lines/{line_id}/inspection",
        m.only(IQC, 201),
        url=V + "/goods-receipt-lines/{gr_serial_line}/inspection",
        body={"rejected": []},
    )
    m.api_case("GET /api/v1/material-lots", m.expect(401, 200))
    m.api_case(
        "GET /api/v1/material-lots/resolve",
        supplier_reads,
        url=V + "/material-lots/resolve?scan={material_lot_q}",
    )
    m.api_case(
        "GET /api/v1/material-lots/{lot_id}",
        supplier_reads,
        url=V + "/material-lots/{material_lot_id}",
    )
    m.api_case(
        "POST /api/v1/material-lots/{lot_id}/inspection",
        m.only(IQC, 201),
        url=V + "/material-lots/{material_lot_id}/inspection",
        body={"accepted_qty": "5"},
    )
    m.api_case(
        "GET /api/v1/suppliers/{party_id}/qualification",
        supplier_reads,
        url=V + "/suppliers/{supplier_id}/qualification",
    )
    m.add(
        "POST /api/v1/parties/{party_id}/licences/{licence_id}/scan",
        m.Case(
            "POST",
            V + "/parties/{supplier_id}/licences/{licence_id}/scan",
            m.only(LICENCE_W, 422),  # no file: the service's 422
            form={"reason": "matrix"},
        ),
    )
    m.api_case(
        "GET /api/v1/parties/{party_id}/licences/{licence_id}/scan",
        supplier_reads,
        url=V + "/parties/{supplier_id}/licences/{licence_id}/scan",
    )

    staff = m.expect(302, 200, 403)
    for route, url in (
        ("/procurement/", "/procurement/"),
        ("/procurement/orders/new/", "/procurement/orders/new/"),
        ("/procurement/orders/<int:pk>/", "/procurement/orders/{po_released}/"),
        ("/procurement/orders/<int:pk>/receive/", "/procurement/orders/{po_released}/receive/"),
        ("/procurement/receipts/<int:pk>/", "/procurement/receipts/{gr_id}/"),
        ("/procurement/receipts/<int:pk>/coc/", "/procurement/receipts/{gr_id}/coc/"),
        (
            "/procurement/receipt-lines/<int:pk>/inspect/",
            "/procurement/receipt-lines/{gr_serial_line}/inspect/",
        ),
        ("/procurement/inspection/", "/procurement/inspection/"),
        ("/procurement/lots/<int:pk>/", "/procurement/lots/{material_lot_id}/"),
        ("/procurement/suppliers/", "/procurement/suppliers/"),
        ("/procurement/suppliers/<int:pk>/", "/procurement/suppliers/{supplier_id}/"),
        ("/procurement/licences/<int:pk>/scan/", "/procurement/licences/{licence_id}/scan/"),
    ):
        m.add(route, m.Case("GET", url, staff, session=True))
    # Writing through the pages needs the same permissions as the services.
    m.MATRIX["/procurement/orders/new/"].append(
        m.Case(
            "POST",
            "/procurement/orders/new/",
            m.expect(302, 403, 403, procurement=302, admin=302),
            session=True,
            form={
                "supplier": "{supplier_id}",
                "material_0": "{material_id}",
                "quantity_0": "3",
            },
        )
    )
    m.MATRIX["/procurement/lots/<int:pk>/"].append(
        m.Case(
            "POST",
            "/procurement/lots/{material_lot_id}/",
            m.expect(302, 403, 403, qc=302, qa_ra=302, admin=302),
            session=True,
            form={"accepted_qty": "5"},
        )
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from urllib.parse import quote

    from medtrace.masterdata.tests import factories as md
    from medtrace.procurement import services
    from medtrace.procurement.models import MaterialLot
    from medtrace.procurement.tests.factories import COC, qualify

    licences = qualify(w.supplier)
    services.licence_scan_upload(
        licence=licences["iso13485"], name="iso.pdf", content=b"%PDF iso scan", user=None
    )
    incoming = md.location(owner=w.maker, kind="warehouse", name="Incoming")
    draft = services.purchase_order_create(
        supplier=w.supplier, lines=[{"material_id": w.resin.pk, "quantity": 10}], user=None
    )
    released = services.purchase_order_create(
        supplier=w.supplier,
        lines=[
            {"material_id": w.resin.pk, "quantity": 100},
            {"material_id": w.pump.pk, "quantity": 10},
        ],
        user=None,
        release=True,
    )
    receipt = services.goods_receipt_create(
        order=released,
        location=incoming,
        lines=[
            {"line": 1, "lot": "MX-R1", "quantity": 5},
            {"line": 2, "serials": ["MX-P1", "MX-P2"]},
        ],
        coc_name="coc.pdf",
        coc_content=COC,
        user=None,
    )
    lot = MaterialLot.objects.get(identifier="MX-R1")
    serial_line = MaterialLot.objects.get(identifier="MX-P1").receipt_line_id
    return {
        "licence_id": licences["iso13485"].pk,
        "po_draft": draft.pk,
        "po_released": released.pk,
        "gr_id": receipt.pk,
        "gr_serial_line": serial_line,
        "material_lot_id": lot.pk,
        "material_lot_q": quote(lot.epc, safe=""),
        "receipt_json": json.dumps(
            {"location_id": incoming.pk, "lines": [{"line": 1, "lot": "MX-R2", "quantity": 1}]}
        ),
    }
