"""Electronic signatures: re-authentication every time, meaning and content hash, invalid after a
later change, lock-out after wrong passwords (with a QA alert), and the signature shown in the
UI, the API and the PDF export."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from pypdf import PdfReader

from medtrace.alerts.models import Alert
from medtrace.audit.models import AuditEntry, Signature
from medtrace.audit.signatures import signature_apply, signatures_for, signing_locked
from medtrace.audit.verify import verify
from medtrace.errors import PermissionDenied, ValidationFailed
from medtrace.masterdata import services
from medtrace.masterdata.models import Bom, Product
from medtrace.masterdata.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(db: None) -> Any:
    return factories.product(manufacturer=factories.party())


def test_a_signature_records_name_time_meaning_and_content_hash(product, qa_manager) -> None:
    sig = signature_apply(
        record=product, meaning="approved", user=qa_manager, password="pw-qa_manager"
    )

    assert sig.printed_name == "Qa Manager" and sig.username == "qa_manager"
    assert sig.meaning == "approved" and sig.signed_at is not None
    assert len(sig.content_sha256) == 64
    [view] = signatures_for(product)
    assert view.valid
    entry = AuditEntry.objects.get(action="sign")
    assert entry.changes["signature_id"] == sig.pk and entry.actor == qa_manager


def test_a_later_change_shows_the_signature_as_invalid(product, qa_manager, admin_user) -> None:
    signature_apply(record=product, meaning="approved", user=qa_manager, password="pw-qa_manager")

    services.product_update(
        product=product, data={"model": "X-2"}, user=admin_user, reason="model renamed"
    )

    [view] = signatures_for(Product.objects.get(pk=product.pk))
    assert not view.valid
    assert view.as_dict()["status"].startswith("invalid")


def test_deactivating_a_product_keeps_its_signature_valid(product, qa_manager, admin_user) -> None:
    signature_apply(record=product, meaning="approved", user=qa_manager, password="pw-qa_manager")

    services.product_update(
        product=product, data={"active": False}, user=admin_user, reason="discontinued"
    )

    assert signatures_for(Product.objects.get(pk=product.pk))[0].valid


def test_a_bom_signature_covers_its_lines_not_its_status(qa_manager, admin_user) -> None:
    product = factories.product(manufacturer=factories.party())
    bom = factories.bom(product_=product, lines=[(factories.material(), "1")])
    signature_apply(record=bom, meaning="reviewed", user=qa_manager, password="pw-qa_manager")

    services.bom_release(bom=bom, user=admin_user)
    released = Bom.objects.get(pk=bom.pk)

    assert signatures_for(released)[0].valid


def test_the_password_is_checked_every_time_and_repeated_failures_lock_signing(
    product, qa_manager, warehouse_clerk, settings
) -> None:
    settings.SIGNING_MAX_FAILURES = 3
    signature_apply(
        record=product, meaning="reviewed", user=warehouse_clerk, password="pw-warehouse_clerk"
    )

    for attempt in (1, 2):
        with pytest.raises(ValidationFailed, match=f"{attempt} of 3") as wrong:
            signature_apply(
                record=product, meaning="approved", user=warehouse_clerk, password="guess"
            )
        assert wrong.value.field == "password"
    with pytest.raises(PermissionDenied, match="locked"):
        signature_apply(record=product, meaning="approved", user=warehouse_clerk, password="x")
    with pytest.raises(PermissionDenied, match="locked"):
        signature_apply(
            record=product, meaning="approved", user=warehouse_clerk, password="pw-warehouse_clerk"
        )

    assert signing_locked(warehouse_clerk)
    assert Signature.objects.count() == 1
    assert AuditEntry.objects.filter(action="sign-failed").count() == 3
    assert AuditEntry.objects.filter(action="sign-locked").count() == 1
    alert = Alert.objects.get(kind="signing_locked")
    assert alert.recipient_role == "qa_ra" and "warehouse_clerk" in alert.title
    assert AuditEntry.objects.filter(object_type="alerts.alert", action="create").count() == 1


def test_qa_unlocks_signing_through_the_api(
    product, qa_manager, warehouse_clerk, api_client, settings
) -> None:
    settings.SIGNING_MAX_FAILURES = 1
    with pytest.raises(PermissionDenied):
        signature_apply(record=product, meaning="approved", user=warehouse_clerk, password="no")
    clerk = api_client(warehouse_clerk, scopes=["records:sign"])
    qa = api_client(qa_manager, scopes=["records:sign"])

    refused = clerk.post("/api/v1/users/warehouse_clerk/unlock-signing")
    unlocked = qa.post("/api/v1/users/warehouse_clerk/unlock-signing")

    assert refused.status_code == 403
    assert unlocked.status_code == 204
    assert not signing_locked(warehouse_clerk)
    assert AuditEntry.objects.filter(action="sign-unlocked").count() == 1


def test_signing_through_the_api(product, qa_manager, api_client) -> None:
    client = api_client(qa_manager, scopes=["records:sign", "audit:read"])
    url = f"/api/v1/records/masterdata.product/{product.pk}/signatures"

    wrong = client.post(
        url,
        json.dumps({"meaning": "approved", "password": "nope"}),
        content_type="application/json",
    )
    bad_meaning = client.post(
        url,
        json.dumps({"meaning": "liked", "password": "pw-qa_manager"}),
        content_type="application/json",
    )
    signed = client.post(
        url,
        json.dumps({"meaning": "approved", "password": "pw-qa_manager", "reason": "DMR review"}),
        content_type="application/json",
    )
    listed = client.get(url)

    assert wrong.status_code == 422 and wrong.json()["field"] == "password"
    assert bad_meaning.status_code == 422 and bad_meaning.json()["field"] == "meaning"
    assert signed.status_code == 201
    body = signed.json()
    assert (body["printed_name"], body["meaning"], body["valid"]) == (
        "Qa Manager",
        "approved",
        True,
    )
    assert listed.json()[0]["signed_at"] == body["signed_at"]
    assert "password" not in json.dumps(listed.json())


def test_the_auditor_cannot_sign(product, auditor, api_client) -> None:
    client = api_client(auditor, scopes=["records:sign"])

    response = client.post(
        f"/api/v1/records/masterdata.product/{product.pk}/signatures",
        json.dumps({"meaning": "approved", "password": "pw-auditor"}),
        content_type="application/json",
    )

    assert response.status_code == 403
    assert Signature.objects.count() == 0


def test_the_ui_shows_signed_by_when_meaning_and_invalid_after_change(
    product, qa_manager, admin_user
) -> None:
    client = Client()
    client.force_login(qa_manager)
    record = f"/records/masterdata.product/{product.pk}/"

    posted = client.post(record, {"meaning": "approved", "password": "pw-qa_manager", "reason": ""})
    valid_page = client.get(record).content.decode()
    services.product_update(product=product, data={"model": "Z"}, user=admin_user, reason="fix")
    product_page = client.get(f"/products/{product.pk}/").content.decode()
    record_page = client.get(record).content.decode()

    assert posted.status_code == 302
    assert "Qa Manager" in valid_page and 'class="badge ok"' in valid_page
    assert "Qa Manager" in product_page and 'class="badge bad"' in product_page
    assert 'class="badge bad"' in record_page


def test_the_ui_reports_a_wrong_password(product, qa_manager) -> None:
    client = Client()
    client.force_login(qa_manager)

    response = client.post(
        f"/records/masterdata.product/{product.pk}/", {"meaning": "approved", "password": "x"}
    )

    assert response.status_code == 422
    assert "wrong password" in response.content.decode()


def test_the_pdf_export_carries_the_signatures_and_their_validity(
    product, qa_manager, api_client, admin_user
) -> None:
    signature_apply(record=product, meaning="approved", user=qa_manager, password="pw-qa_manager")
    client = api_client(qa_manager, scopes=["audit:read"])
    url = f"/api/v1/records/masterdata.product/{product.pk}/pdf"

    first = client.get(url)
    services.product_update(product=product, data={"model": "Q"}, user=admin_user, reason="r")
    second = client.get(url)

    assert first.status_code == 200 and first["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(first.content)).pages)
    assert "Qa Manager" in text and "approved" in text and "valid" in text
    later = "".join(page.extract_text() for page in PdfReader(io.BytesIO(second.content)).pages)
    assert "INVALID" in later


def test_a_chinese_pdf_renders_chinese_text(product, qa_manager) -> None:
    signature_apply(record=product, meaning="approved", user=qa_manager, password="pw-qa_manager")
    client = Client()
    client.force_login(qa_manager)

    client.cookies["django_language"] = "zh-hans"

    response = client.get(f"/records/masterdata.product/{product.pk}/pdf/")

    assert response.status_code == 200, response
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Qa Manager" in text and "电子签名" in text


def test_an_edited_signature_row_is_found_by_verify(product, qa_manager) -> None:
    sig = signature_apply(
        record=product, meaning="reviewed", user=qa_manager, password="pw-qa_manager"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = 'replica'")
        cursor.execute("UPDATE audit_signature SET meaning = 'approved' WHERE id = %s", [sig.pk])
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = 'origin'")

    report = verify()

    assert not report.ok
    assert f"signature {sig.pk}" in report.problems[0].message


def test_a_product_signature_covers_its_dis(product, qa_manager, admin_user) -> None:
    signature_apply(record=product, meaning="approved", user=qa_manager, password="pw-qa_manager")
    maker = product.manufacturer

    services.identifier_add(
        product=product,
        data={
            "packaging_level": "case",
            "di": factories.gtin(maker.gs1_company_prefix, 77, "1"),
            "quantity": 10,
        },
        user=admin_user,
    )

    assert not signatures_for(Product.objects.get(pk=product.pk))[0].valid
