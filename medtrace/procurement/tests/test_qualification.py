"""Supplier qualification: certificates and approved materials block POs and receipts; alerts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from medtrace.alerts.models import Alert
from medtrace.audit.models import AuditEntry
from medtrace.errors import ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lifecycle.services import attachment_read
from medtrace.masterdata import services as md_services
from medtrace.masterdata.models import MaterialSupplier
from medtrace.masterdata.tests import factories as md
from medtrace.procurement import services
from medtrace.procurement.models import GoodsReceipt, MaterialLot, PurchaseOrder

from .factories import proc_world, purchase_order, qualify, receive

pytestmark = pytest.mark.django_db


def _expire(licence: Any, days_ago: int = 1) -> Any:
    return md_services.licence_update(
        licence=licence,
        data={"expires_on": timezone.localdate() - timedelta(days=days_ago)},
        user=None,
        reason="test: certificate lapsed",
    )


def test_a_qualified_supplier_has_no_problems() -> None:
    p = proc_world()
    assert services.supplier_qualification(p.supplier) == []
    assert services.supplier_qualification(p.supplier, p.w.resin) == []


def test_an_expired_iso_certificate_is_named_with_its_expiry() -> None:
    p = proc_world()
    iso = _expire(p.licences["iso13485"])
    problems = services.supplier_qualification(p.supplier)
    assert [x["code"] for x in problems] == ["certificate_expired"]
    assert problems[0]["expires_on"] == iso.expires_on.isoformat()
    assert iso.number in problems[0]["message"]
    assert "ISO 13485" in problems[0]["message"]


def test_a_missing_production_licence_and_an_unapproved_material_are_problems() -> None:
    p = proc_world()
    other = md.party(role="supplier", name="Another supplier")
    qualify(other)
    MaterialSupplier.objects.filter(material=p.w.pump).update(approved=False)
    problems = services.supplier_qualification(p.supplier, p.w.pump)
    assert [x["code"] for x in problems] == ["material_not_approved"]
    assert p.w.pump.code in problems[0]["message"]
    assert [x["code"] for x in services.supplier_qualification(other, p.w.resin)] == [
        "material_not_sourced"
    ]
    assert services.supplier_qualification(other) == []


def test_ordering_from_a_supplier_with_an_expired_certificate_is_refused_and_stores_nothing() -> (
    None
):
    p = proc_world()
    iso = _expire(p.licences["iso13485"], days_ago=3)
    audits = AuditEntry.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        purchase_order(p)
    assert exc.value.field == "supplier"
    assert f"expired on {iso.expires_on.isoformat()}" in exc.value.message
    assert PurchaseOrder.objects.count() == 0
    assert AuditEntry.objects.count() == audits


def test_ordering_an_unapproved_material_is_refused_on_its_line() -> None:
    p = proc_world()
    MaterialSupplier.objects.filter(material=p.w.pump).update(approved=False)
    with pytest.raises(ValidationFailed, match="is not approved from") as exc:
        purchase_order(p, [(p.w.resin, 10), (p.w.pump, 2)])
    assert exc.value.field == "lines[1].material_id"
    assert PurchaseOrder.objects.count() == 0


def test_a_receipt_from_a_supplier_whose_certificate_expired_after_ordering_is_blocked() -> None:
    p = proc_world()
    order = purchase_order(p)
    iso = _expire(p.licences["iso13485"])
    events, audits = Event.objects.count(), AuditEntry.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 10}])
    assert exc.value.status == 422
    assert exc.value.field == "supplier"
    assert "ISO 13485" in exc.value.message
    assert iso.number in exc.value.message
    assert iso.expires_on.isoformat() in exc.value.message
    assert GoodsReceipt.objects.count() == 0
    assert MaterialLot.objects.count() == 0
    assert Event.objects.count() == events
    assert AuditEntry.objects.count() == audits
    order.refresh_from_db()
    assert order.lines.get(position=1).received_qty == Decimal(0)


def test_a_receipt_of_a_material_no_longer_approved_is_blocked_on_its_line() -> None:
    p = proc_world()
    order = purchase_order(p)
    MaterialSupplier.objects.filter(material=p.w.resin).update(approved=False)
    with pytest.raises(ValidationFailed, match="is not approved from") as exc:
        receive(p, order, [{"line": 1, "lot": "R-1", "quantity": 10}])
    assert exc.value.field == "lines[0].order_line_id"
    assert MaterialLot.objects.count() == 0


def test_certificate_alerts_go_to_procurement_once_per_certificate_and_threshold() -> None:
    p = proc_world()
    today = timezone.localdate()
    soon = md_services.licence_update(
        licence=p.licences["iso13485"],
        data={"expires_on": today + timedelta(days=20)},
        user=None,
        reason="test",
    )
    lapsed = _expire(p.licences["production_licence"], days_ago=2)
    raised = services.certificates_check(days=30)
    assert sorted((a.kind, a.object_id) for a in raised) == sorted(
        [("certificate_expiring", str(soon.pk)), ("certificate_expired", str(lapsed.pk))]
    )
    assert all(a.recipient_role == "procurement" for a in raised)
    expiring = next(a for a in raised if a.kind == "certificate_expiring")
    assert soon.number in expiring.title
    assert expiring.evidence["expires_on"] == (today + timedelta(days=20)).isoformat()
    # Idempotent: running again raises nothing new.
    assert services.certificates_check(days=30) == []
    assert Alert.objects.count() == 2
    # A nearer threshold warns again; a wider one does not.
    assert [
        a.object_id for a in services.certificates_check(days=7, today=today + timedelta(15))
    ] == [str(soon.pk)]
    assert services.certificates_check(days=60) == []
    # A renewed certificate with a new expiry is a new certificate period.
    md_services.licence_update(
        licence=soon, data={"expires_on": today + timedelta(days=25)}, user=None, reason="renewed"
    )
    assert len(services.certificates_check(days=30)) == 1


def test_the_check_certificates_command_raises_the_alerts(capsys: pytest.CaptureFixture) -> None:
    p = proc_world()
    _expire(p.licences["iso13485"])
    call_command("procurement", "check-certificates", "--days", "10")
    out = capsys.readouterr().out
    assert "1 alert" in out
    assert p.licences["iso13485"].number in out
    call_command("procurement", "check-certificates")
    assert "0 alerts" in capsys.readouterr().out


def test_a_certificate_scan_is_stored_with_its_sha256() -> None:
    p = proc_world()
    content = b"%PDF-1.4 scan of ISO 13485 certificate"
    licence = services.licence_scan_upload(
        licence=p.licences["iso13485"], name="iso.pdf", content=content, user=None
    )
    assert licence.scan is not None
    assert attachment_read(licence.scan) == content
    import hashlib

    assert licence.scan.sha256 == hashlib.sha256(content).hexdigest()
