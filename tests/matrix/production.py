"""Production: work orders, commissioning, the assembly station, process records, the DHR.

Every department reads work orders (``production.view_workorder``); production (and the admin)
plans, releases, commissions, assembles, records process data, completes and cancels; QA/RA (and
the admin) closes a completed order, e-signed. The DHR is read by production, QC, QA/RA, the
auditor and the admin. Work orders are the maker's production records: partners get an empty
list, 404 for a single order or DHR, and their tokens cannot carry production:write (403).
The pages are for our staff only (403 for partners), the work pages for who may use them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

PRODUCE = ("production", "admin")
CLOSE = ("qa_ra", "admin")
DHR = ("production", "qc", "qa_ra", "auditor", "admin")


def register(m: Any) -> None:
    V = m.V
    WO = V + "/work-orders/"
    staff_reads = m.expect(401, 200, 404)
    dhr_reads = m.only(DHR, 200, partners=404)
    m.api_case("GET /api/v1/work-orders", m.expect(401, 200))
    m.api_case(
        "POST /api/v1/work-orders",
        m.only(PRODUCE, 201),
        body={"product_id": "{wo_product_id}", "quantity": 2, "line_id": "{wo_line_id}"},
    )
    m.api_case("GET /api/v1/work-orders/{order_id}", staff_reads, url=WO + "{wo_open}")
    m.api_case(
        "POST /api/v1/work-orders/{order_id}/release",
        m.only(PRODUCE, 200),
        url=WO + "{wo_planned}/release",
    )
    m.api_case(
        "POST /api/v1/work-orders/{order_id}/commission",
        m.only(PRODUCE, 201),
        url=WO + "{wo_open}/commission",
        body={"count": 1},
    )
    m.api_case(
        "POST /api/v1/work-orders/{order_id}/assemble",
        m.only(PRODUCE, 422),  # the scan names nothing we know: the service's 422
        url=WO + "{wo_open}/assemble",
        body={"unit": "{wo_unit}", "components": [{"scan": "(01)06920001000212(10)NONE"}]},
    )
    m.api_case(
        "POST /api/v1/work-orders/{order_id}/process-records",
        m.only(PRODUCE, 201),
        url=WO + "{wo_open}/process-records",
        body={"step": "burn-in", "parameters": [{"name": "T", "value": 45, "unit": "°C"}]},
    )
    m.api_case(
        "POST /api/v1/work-orders/{order_id}/complete",
        m.only(PRODUCE, 200),
        url=WO + "{wo_open}/complete",
    )
    m.api_case(
        "POST /api/v1/work-orders/{order_id}/cancel",
        m.only(PRODUCE, 200),
        url=WO + "{wo_planned}/cancel",
        body={"reason": "matrix"},
    )
    m.api_case(
        "POST /api/v1/work-orders/{order_id}/close",
        m.only(CLOSE, 422),  # a wrong password: the signature's 422, after every check
        url=WO + "{wo_done}/close",
        body={"password": "wrong"},
    )
    m.api_case("GET /api/v1/work-orders/{order_id}/dhr", dhr_reads, url=WO + "{wo_open}/dhr")
    m.api_case(
        "GET /api/v1/work-orders/{order_id}/dhr/pdf", dhr_reads, url=WO + "{wo_open}/dhr/pdf"
    )
    m.api_case("GET /api/v1/units/{path:id}/dhr", dhr_reads, url=V + "/units/{wo_unit_q}/dhr")
    m.api_case(
        "GET /api/v1/units/{path:id}/dhr/pdf", dhr_reads, url=V + "/units/{wo_unit_q}/dhr/pdf"
    )

    P = "/production/work-orders/"
    pages = m.expect(302, 200, 403)
    work = m.only(PRODUCE, 200, anon=302)
    dhr_pages = m.only(DHR, 200, anon=302)
    m.add("/production/", m.Case("GET", "/production/", pages, session=True))
    m.add("/production/work-orders/new/", m.Case("GET", P + "new/", work, session=True))
    m.add(
        "/production/work-orders/<int:pk>/",
        m.Case("GET", P + "{wo_open}/", pages, session=True),
    )
    m.add(
        "/production/work-orders/<int:pk>/status/<str:action>/",
        m.Case(
            "POST",
            P + "{wo_planned}/status/release/",
            m.only(PRODUCE, 302, anon=302),
            session=True,
            form={},
        ),
    )
    m.add(
        "/production/work-orders/<int:pk>/commission/",
        m.Case("GET", P + "{wo_open}/commission/", work, session=True),
    )
    m.add(
        "/production/work-orders/<int:pk>/assemble/",
        m.Case("GET", P + "{wo_open}/assemble/", work, session=True),
    )
    m.add(
        "/production/work-orders/<int:pk>/process-records/",
        m.Case(
            "POST",
            P + "{wo_open}/process-records/",
            m.only(PRODUCE, 302, anon=302),
            session=True,
            form={"step": "burn-in", "parameters": "T = 45 °C"},
        ),
    )
    m.add(
        "/production/work-orders/<int:pk>/dhr/",
        m.Case("GET", P + "{wo_open}/dhr/", dhr_pages, session=True),
    )
    m.add(
        "/production/work-orders/<int:pk>/dhr.pdf",
        m.Case("GET", P + "{wo_open}/dhr.pdf", dhr_pages, session=True),
    )
    m.add(
        "/production/dhr/",
        m.Case("GET", "/production/dhr/?id={wo_unit_q}", dhr_pages, session=True),
    )
    m.add(
        "/production/dhr.pdf",
        m.Case("GET", "/production/dhr.pdf?id={wo_unit_q}", dhr_pages, session=True),
    )


def build(w: Any, users: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A product of our own with a released BOM and a serial rule, a production line, and
    work orders: planned, open (two units commissioned) and completed."""
    from medtrace.masterdata import services as md_services
    from medtrace.masterdata.tests import factories as md
    from medtrace.production import services_orders as orders
    from medtrace.production.services import serial_rule_set

    line = md.location(
        owner=w.maker, kind="production_line", ref=61, name="装配线 MX", parent_id=w.plant.pk
    )
    product = md.product(
        manufacturer=w.maker,
        name="输液泵 (matrix)",
        model="IP-MX",
        identifiers=[{"packaging_level": "unit", "di": md.gtin("6901234", 61)}],
    )
    part = md.material(tracking="lot", name="Housing (matrix)")
    bom = md.bom(product_=product, lines=[(part, "1")])
    md_services.bom_release(bom=bom, user=None)
    serial_rule_set(product=product, data={"prefix": "WX", "sequence_width": 6}, user=None)

    def order(quantity: int) -> Any:
        return orders.work_order_create(
            data={"product_id": product.pk, "quantity": quantity, "line_id": line.pk}, user=None
        )

    planned = order(2)
    open_order = orders.work_order_release(work_order=order(5), user=None)
    made = orders.work_order_commission(work_order=open_order, count=2, user=None)
    done = orders.work_order_release(work_order=order(1), user=None)
    orders.work_order_commission(work_order=done, count=1, user=None)
    orders.work_order_complete(work_order=done, user=None)
    return {
        "wo_product_id": product.pk,
        "wo_line_id": line.pk,
        "wo_planned": planned.pk,
        "wo_open": open_order.pk,
        "wo_done": done.pk,
        "wo_unit": made.epcs[0],
        "wo_unit_q": quote(made.epcs[0], safe=""),
    }
