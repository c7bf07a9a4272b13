"""Sales orders: who they go to, the licence check on confirmation, cancel and close."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from medtrace.audit.models import AuditEntry
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.masterdata.models import PartyLicence

from ..models import SalesOrder, SalesOrderStatus
from ..services import (
    sales_order_cancel,
    sales_order_close,
    sales_order_confirm,
    sales_order_create,
    shipment_create,
)
from .factories import Dist, licence

pytestmark = pytest.mark.django_db


def data(d: Dist, **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "customer_id": d.w.hospital.pk,
        "ship_to_id": d.w.ward.pk,
        "lines": [{"product_id": d.w.device.pk, "quantity": 3}],
    }
    base.update(over)
    return base


def refused(d: Dist, **over: object) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as exc:
        sales_order_create(data=data(d, **over), user=d.sales)
    assert SalesOrder.objects.count() == 0
    return exc.value


def test_an_order_is_numbered_audited_and_starts_as_a_draft(d: Dist) -> None:
    order = sales_order_create(data=data(d, customer_po="PO-1"), user=d.sales)
    assert order.number.startswith("SO-") and order.status == SalesOrderStatus.DRAFT
    entry = AuditEntry.objects.get(object_type="distribution.salesorder", object_id=str(order.pk))
    assert entry.changes["lines"] == [{"product_id": d.w.device.pk, "quantity": 3}]
    assert entry.actor_id == d.sales.pk


def test_orders_go_to_distributors_and_hospitals_only(d: Dist) -> None:
    exc = refused(d, customer_id=d.w.supplier.pk)
    assert exc.field == "customer_id" and "go to a distributor or a hospital" in exc.message


def test_the_ship_to_is_a_location_of_the_customer(d: Dist) -> None:
    exc = refused(d, ship_to_id=d.w.dist_site.pk)
    assert exc.field == "ship_to_id" and "not to the customer" in exc.message


@pytest.mark.parametrize(
    ("lines", "field", "text"),
    [
        ([], "lines", "at least one line"),
        ([{"product_id": 999999, "quantity": 1}], "lines[0].product_id", "no product"),
        ([{"product_id": "DEV", "quantity": 1}], "lines[0].product_id", "no product"),
        ("DEVICE", "lines", "at least one line"),
    ],
)
def test_bad_lines_are_refused(d: Dist, lines: object, field: str, text: str) -> None:
    exc = refused(d, lines=lines)
    assert exc.field == field and text in exc.message


def test_quantities_and_duplicates_are_checked(d: Dist) -> None:
    p = d.w.device.pk
    exc = refused(d, lines=[{"product_id": p, "quantity": 0}])
    assert exc.field == "lines[0].quantity" and "at least 1" in exc.message
    exc = refused(d, lines=[{"product_id": p, "quantity": 1}, {"product_id": p, "quantity": 2}])
    assert exc.field == "lines[1].product_id" and "one line per product" in exc.message


def test_a_lot_tracked_product_cannot_be_ordered_here(d: Dist) -> None:
    from medtrace.masterdata.tests import factories as md

    lotted = md.product(manufacturer=d.w.maker, tracking="lot")
    exc = refused(d, lines=[{"product_id": lotted.pk, "quantity": 10}])
    assert "lot-tracked" in exc.message


def test_confirming_checks_the_hospital_licence(d: Dist) -> None:
    order = sales_order_create(data=data(d), user=d.sales)
    lic = d.hospital_licence
    lic.expires_on = timezone.localdate() - timedelta(days=3)
    lic.save()
    with pytest.raises(ValidationFailed) as exc:
        sales_order_confirm(order=order, user=d.sales)
    assert exc.value.field == "customer_id"
    assert f"(医疗机构执业许可证) {lic.number} expired on" in exc.value.message
    order.refresh_from_db()
    assert order.status == SalesOrderStatus.DRAFT
    lic.expires_on = timezone.localdate()  # valid through today
    lic.save()
    confirmed = sales_order_confirm(order=order, user=d.sales)
    assert confirmed.status == SalesOrderStatus.CONFIRMED
    assert confirmed.licence_number == lic.number and confirmed.confirmed_by == d.sales


def test_a_customer_without_a_licence_cannot_be_confirmed(d: Dist) -> None:
    PartyLicence.objects.filter(party=d.w.distributor).delete()
    order = sales_order_create(
        data=data(d, customer_id=d.w.distributor.pk, ship_to_id=d.w.dist_site.pk), user=d.sales
    )
    with pytest.raises(ValidationFailed) as exc:
        sales_order_confirm(order=order, user=d.sales)
    assert "has no Medical device distribution licence" in exc.value.message
    assert "Class II distribution filing" in exc.value.message


def test_a_distribution_filing_without_expiry_is_valid(d: Dist) -> None:
    PartyLicence.objects.filter(party=d.w.distributor).delete()
    number = "苏宁食药监械经营备20200001号"
    licence(d.w.distributor, kind="distribution_filing", expires=None, number=number)
    order = sales_order_create(
        data=data(d, customer_id=d.w.distributor.pk, ship_to_id=d.w.dist_site.pk), user=d.sales
    )
    assert sales_order_confirm(order=order, user=d.sales).licence_number.endswith("备20200001号")


def test_cancel_and_close_need_a_reason_and_the_right_status(d: Dist) -> None:
    order = d.order(2)
    with pytest.raises(ValidationFailed):
        sales_order_cancel(order=order, user=d.sales, reason=" ")
    with pytest.raises(ValidationFailed):  # nothing shipped: cancel, not close
        sales_order_close(order=order, user=d.sales, reason="customer changed plans")
    cancelled = sales_order_cancel(order=order, user=d.sales, reason="customer changed plans")
    assert cancelled.status == SalesOrderStatus.CANCELLED
    with pytest.raises(ValidationFailed):
        sales_order_confirm(order=cancelled, user=d.sales)

    shipped = d.order(2)
    shipment_create(order=shipped, scans=d.ready("K1"), user=d.sales)
    with pytest.raises(ValidationFailed):  # something shipped: it cannot be cancelled
        sales_order_cancel(order=shipped, user=d.sales, reason="x")
    closed = sales_order_close(order=shipped, user=d.sales, reason="rest back-ordered, new SO")
    assert closed.status == SalesOrderStatus.CLOSED


def test_only_sales_writes_orders(d: Dist) -> None:
    with pytest.raises(PermissionDenied):
        sales_order_create(data=data(d), user=d.warehouse)
    with pytest.raises(PermissionDenied):
        sales_order_create(data=data(d), user=d.hospital_user)
