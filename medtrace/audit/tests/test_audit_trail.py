"""The audit trail: every change recorded with old and new values, reasons for regulated
records, the hash chain, tampering found by `medtrace audit verify`, and signed checkpoints."""

from __future__ import annotations

import itertools
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from medtrace.audit import services as audit
from medtrace.audit.context import audit_context
from medtrace.audit.models import AuditEntry, AuditHead
from medtrace.audit.services import entry_hash
from medtrace.audit.verify import checkpoint_create, verify
from medtrace.ledger import models as ledger_models
from medtrace.ledger import services as ledger
from medtrace.ledger.tests import builders as b
from medtrace.masterdata import services
from medtrace.masterdata.models import Product
from medtrace.masterdata.tests import factories

pytestmark = pytest.mark.django_db


def _json(client: Client, method: str, path: str, body: Any = None, **headers: Any) -> Any:
    return getattr(client, method)(
        path,
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
        **headers,
    )


def _product_body(maker: Any, di: str) -> dict[str, Any]:
    return {
        "manufacturer_id": maker.pk,
        "name": "输液泵",
        "name_en": "Infusion pump",
        "model": "IP-1",
        "issuing_agency": "gs1",
        "nmpa_registration_no": "国械注准20243140001",
        "risk_class": "II",
        "tracking": "serial",
        "udi_pi_elements": ["serial"],
        "identifiers": [{"packaging_level": "unit", "di": di, "quantity": 1}],
    }


@pytest.fixture
def unprotected() -> Any:
    """Raw SQL edits as an attacker with database superuser rights would make them: on
    PostgreSQL the append-only triggers must first be bypassed."""

    def run(sql: str, params: list[Any] | None = None, *, tables: tuple[str, ...]) -> None:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # A superuser can switch user triggers off for the session; so can an attacker
                # with those rights, which is why verify does not trust the triggers alone.
                cursor.execute("SET session_replication_role = 'replica'")
            try:
                cursor.execute(sql, params or [])
            finally:
                if connection.vendor == "postgresql":
                    cursor.execute("SET session_replication_role = 'origin'")

    return run


def test_an_api_change_records_actor_fields_reason_and_request_id(admin_user, api_client) -> None:
    maker = factories.party()
    client = api_client(admin_user)
    created = _json(
        client,
        "post",
        "/api/v1/products",
        _product_body(maker, factories.gtin(maker.gs1_company_prefix, 7)),
    )
    pid = created.json()["id"]

    changed = _json(
        client,
        "patch",
        f"/api/v1/products/{pid}",
        {"model": "IP-2", "reason": "CCR-17: model renamed"},
        HTTP_X_REQUEST_ID="req-abc-123",
    )

    assert changed.status_code == 200
    assert changed["X-Request-ID"] == "req-abc-123"
    history = list(audit.history("masterdata.product", pid))
    assert [e.action for e in history] == ["create", "update"]
    update = history[1]
    assert update.actor == admin_user and update.actor_name == "admin_user"
    assert update.source == "api"
    assert update.changes == {"model": ["IP-1", "IP-2"]}
    assert update.reason == "CCR-17: model renamed"
    assert update.request_id == "req-abc-123"
    assert update.prev_hash == history[0].hash or update.seq > history[0].seq
    created_entry = history[0]
    assert created_entry.changes["name"] == "输液泵"
    assert AuditEntry.objects.filter(object_type="masterdata.productidentifier").count() == 1


def test_a_regulated_change_without_a_reason_is_refused_and_nothing_changes(
    admin_user, api_client
) -> None:
    maker = factories.party()
    client = api_client(admin_user)
    pid = _json(
        client,
        "post",
        "/api/v1/products",
        _product_body(maker, factories.gtin(maker.gs1_company_prefix, 8)),
    ).json()["id"]
    before = AuditEntry.objects.count()

    refused = _json(client, "patch", f"/api/v1/products/{pid}", {"model": "IP-9"})

    assert refused.status_code == 422
    body = refused.json()
    assert body["field"] == "reason"
    assert "regulated record" in body["message"] and "reason" in body["message"]
    assert Product.objects.get(pk=pid).model == "IP-1"
    assert AuditEntry.objects.count() == before


def test_a_delete_gives_its_reason_in_a_header_and_keeps_the_last_values(
    admin_user, api_client
) -> None:
    maker = factories.party()
    client = api_client(admin_user)
    pid = _json(
        client,
        "post",
        "/api/v1/products",
        _product_body(maker, factories.gtin(maker.gs1_company_prefix, 9)),
    ).json()["id"]

    without = client.delete(f"/api/v1/products/{pid}")
    deleted = client.delete(
        f"/api/v1/products/{pid}",
        HTTP_X_CHANGE_REASON="entered%20by%20mistake%EF%BC%88%E9%87%8D%E5%A4%8D%EF%BC%89",
    )

    assert without.status_code == 422 and without.json()["field"] == "reason"
    assert deleted.status_code == 204
    entry = audit.history("masterdata.product", pid).last()
    assert entry is not None and entry.action == "delete"
    assert entry.reason == "entered by mistake（重复）"
    assert entry.changes["model"] == "IP-1"


def test_an_unregulated_change_needs_no_reason_and_a_no_op_writes_nothing(admin_user) -> None:
    party = services.party_create(data={"name": "Acme", "role": "supplier"}, user=admin_user)
    count = AuditEntry.objects.count()

    services.party_update(party=party, data={"city": "Suzhou"}, user=admin_user)
    services.party_update(party=party, data={"city": "Suzhou"}, user=admin_user)

    entries = list(audit.history("masterdata.party", party.pk))
    assert AuditEntry.objects.count() == count + 1
    assert entries[-1].changes == {"city": ["", "Suzhou"]}


def test_cli_changes_are_attributed_to_the_command(db) -> None:
    with audit_context(source="cli", request_id="cli-test-1"):
        party = services.party_create(data={"name": "CLI Co", "role": "supplier"}, user=None)

    entry = audit.history("masterdata.party", party.pk).get()
    assert (entry.source, entry.request_id, entry.actor_id, entry.actor_name) == (
        "cli",
        "cli-test-1",
        None,
        "<cli>",
    )


def test_the_admin_asks_for_a_reason_and_records_the_change(admin_user) -> None:
    maker = factories.party()
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/masterdata/party/{maker.pk}/change/"
    page = client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update({"name": "Renamed maker", "change_reason": "merger"})
    for key in ("licences-TOTAL_FORMS", "licences-INITIAL_FORMS"):
        data[key] = "0"
    data["licences-MIN_NUM_FORMS"] = "0"
    data["licences-MAX_NUM_FORMS"] = "1000"
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}

    response = client.post(url, data)

    assert response.status_code == 302, response.content[:2000]
    entry = audit.history("masterdata.party", maker.pk).last()
    assert entry is not None
    assert entry.source == "admin" and entry.reason == "merger"
    assert entry.changes["name"][1] == "Renamed maker"


def test_the_chain_links_every_entry_and_verifies(admin_user) -> None:
    for i in range(5):
        services.party_create(data={"name": f"P{i}", "role": "supplier"}, user=admin_user)

    entries = list(AuditEntry.objects.order_by("seq"))
    report = verify()

    assert report.ok, report.problems
    assert [e.seq for e in entries] == list(range(entries[0].seq, entries[0].seq + 5))
    for prev, entry in itertools.pairwise(entries):
        assert entry.prev_hash == prev.hash
    head = AuditHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (entries[-1].seq, entries[-1].hash)


def test_on_postgresql_the_audit_table_refuses_update_and_delete(admin_user) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's; SQLite relies on verify")
    from django.db import DatabaseError, transaction

    services.party_create(data={"name": "P", "role": "supplier"}, user=admin_user)
    for sql in ("UPDATE audit_auditentry SET reason = 'x'", "DELETE FROM audit_auditentry"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)


def _verify_cli(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("audit", "verify", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_a_raw_sql_edit_of_an_audit_row_is_named_by_verify(admin_user, unprotected) -> None:
    parties = [
        services.party_create(data={"name": f"Supplier {i}", "role": "supplier"}, user=admin_user)
        for i in range(4)
    ]
    target = audit.history("masterdata.party", parties[2].pk).get()
    code, out, _err = _verify_cli()
    assert code == 0 and out.startswith("OK")

    unprotected(
        "UPDATE audit_auditentry SET changes = %s WHERE seq = %s",
        [json.dumps({"name": "Someone else"}), target.seq],
        tables=("audit_auditentry",),
    )
    code, _out, err = _verify_cli()

    assert code == 1
    assert f"TAMPERING DETECTED: audit entry #{target.seq}:" in err
    assert "altered after it was written" in err


def test_deleting_an_entry_leaves_a_gap_that_verify_names(admin_user, unprotected) -> None:
    for i in range(3):
        services.party_create(data={"name": f"S{i}", "role": "supplier"}, user=admin_user)
    middle = AuditEntry.objects.order_by("seq")[1]

    unprotected(
        "DELETE FROM audit_auditentry WHERE seq = %s", [middle.seq], tables=("audit_auditentry",)
    )
    report = verify()

    assert not report.ok
    first = report.first_problem
    assert first is not None and first.seq == middle.seq + 1
    assert "gap" in first.message


def test_a_raw_sql_edit_of_a_ledger_row_is_named_by_verify(unprotected) -> None:
    ledger.capture_document(
        data=b.document(b.commission([b.sgtin("S1"), b.sgtin("S2")], "2026-01-05T08:00:00Z")),
        user=None,
    )
    seal = AuditEntry.objects.get(action="capture")
    assert verify().ok

    unprotected(
        "UPDATE ledger_event SET biz_step = 'shipping'",
        tables=("ledger_event",),
    )
    code, _out, err = _verify_cli()

    assert code == 1
    assert f"audit entry #{seal.seq}" in err
    assert "biz_step is 'shipping'" in err


def test_an_edit_of_a_ledger_epc_row_is_detected(unprotected) -> None:
    ledger.capture_document(
        data=b.document(b.commission([b.sgtin("S1")], "2026-01-05T08:00:00Z")), user=None
    )

    unprotected("UPDATE ledger_eventepc SET epc = %s", [b.sgtin("S9")], tables=("ledger_eventepc",))

    report = verify()
    assert not report.ok
    assert "no longer match their seal" in report.problems[0].message


def test_an_exported_checkpoint_detects_a_rechained_database(
    admin_user, tmp_path: Path, settings, unprotected
) -> None:
    settings.CHECKPOINT_KEY_FILE = tmp_path / "checkpoint.key"
    for i in range(3):
        services.party_create(data={"name": f"Orig {i}", "role": "supplier"}, user=admin_user)
    exported = tmp_path / "cp.json"
    out = StringIO()
    call_command("audit", "checkpoint", "-o", str(exported), stdout=out, stderr=StringIO())
    saved = json.loads(exported.read_text())
    assert saved["seq"] == AuditHead.objects.get().seq

    # The attacker rewrites history and re-chains every hash, head and stored checkpoint.
    first = AuditEntry.objects.order_by("seq").first()
    assert first is not None
    rows = list(AuditEntry.objects.order_by("seq").values())
    rows[0]["changes"] = {**rows[0]["changes"], "name": "Forged"}
    prev = "0" * 64
    for row in rows:
        row["prev_hash"] = prev
        row["hash"] = entry_hash(prev, row)
        prev = row["hash"]
        unprotected(
            "UPDATE audit_auditentry SET changes = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [json.dumps(row["changes"]), row["prev_hash"], row["hash"], row["id"]],
            tables=("audit_auditentry",),
        )
    unprotected("DELETE FROM audit_auditcheckpoint", tables=("audit_auditcheckpoint",))
    AuditHead.objects.filter(pk=1).update(hash=prev)
    assert verify().ok  # internally consistent again…

    code, _out, err = _verify_cli("--checkpoint", str(exported))

    assert code == 1  # …but not with the checkpoint kept outside
    assert f"audit entry #{saved['seq']}" in err and "re-chained" in err


def test_an_altered_checkpoint_file_is_refused(admin_user, tmp_path: Path, settings) -> None:
    settings.CHECKPOINT_KEY_FILE = tmp_path / "k.pem"
    services.party_create(data={"name": "P", "role": "supplier"}, user=admin_user)
    data = checkpoint_create(created_by="test")
    data["hash"] = "f" * 64
    path = tmp_path / "cp.json"
    path.write_text(json.dumps(data))

    code, _out, err = _verify_cli("--checkpoint", str(path))

    assert code == 1 and "signature is invalid" in err


def test_the_auditor_reads_the_trail_and_a_department_user_cannot(
    auditor, warehouse_clerk, admin_user, api_client
) -> None:
    services.party_create(data={"name": "P", "role": "supplier"}, user=admin_user)

    as_auditor = api_client(auditor, scopes=["audit:read"]).get(
        "/api/v1/audit", {"object_type": "masterdata.party"}
    )
    as_clerk = api_client(warehouse_clerk, scopes=["audit:read"]).get("/api/v1/audit")
    verified = api_client(auditor, scopes=["audit:read"]).get("/api/v1/audit/verify")

    assert as_auditor.status_code == 200
    assert as_auditor.json()["items"][0]["object_type"] == "masterdata.party"
    assert as_clerk.status_code == 403
    assert verified.status_code == 200 and verified.json()["ok"] is True


def test_the_record_history_page_shows_every_old_and_new_value(admin_user, qa_manager) -> None:
    party = services.party_create(data={"name": "Alpha", "role": "supplier"}, user=admin_user)
    services.party_update(party=party, data={"name": "Beta"}, user=admin_user)
    services.party_update(party=party, data={"name": "Gamma"}, user=admin_user)
    client = Client()
    client.force_login(qa_manager)

    page = client.get(f"/records/masterdata.party/{party.pk}/")
    api = client.get(f"/api/v1/records/masterdata.party/{party.pk}/history")

    html = page.content.decode()
    assert page.status_code == 200
    for value in ("Alpha", "Beta", "Gamma"):
        assert value in html
    assert [e["changes"].get("name") for e in api.json()] == [
        "Alpha",
        ["Alpha", "Beta"],
        ["Beta", "Gamma"],
    ]


def test_a_partner_gets_404_for_a_record_history(admin_user, hospital_a) -> None:
    party = services.party_create(data={"name": "Alpha", "role": "supplier"}, user=admin_user)
    client = Client()
    client.force_login(hospital_a)

    assert client.get(f"/records/masterdata.party/{party.pk}/").status_code == 404
    assert client.get(f"/api/v1/records/masterdata.party/{party.pk}/history").status_code == 404


def test_a_capture_committed_while_verify_runs_is_not_tampering() -> None:
    from medtrace.audit.verify import Report, _check_chain, _check_ledger

    ledger.capture_document(
        data=b.document(b.commission([b.sgtin("E1")], "2026-01-05T08:00:00Z")), user=None
    )
    report = Report()
    wanted = _check_chain(report)
    # Another request commits a capture between the chain walk and the ledger pass.
    ledger.capture_document(
        data=b.document(b.commission([b.sgtin("E2")], "2026-01-06T08:00:00Z")), user=None
    )

    _check_ledger(report, wanted)

    assert report.ok, report.problems


def test_a_deleted_ledger_event_is_found(unprotected) -> None:
    ledger.capture_document(
        data=b.document(
            b.commission([b.sgtin("D1")], "2026-01-05T08:00:00Z"),
            b.commission([b.sgtin("D2")], "2026-01-05T09:00:00Z"),
        ),
        user=None,
    )
    seal = AuditEntry.objects.get(action="capture")
    last = ledger_models.Event.objects.order_by("-id").first()
    assert last is not None

    # The projections point at the event (they are derived and may change); the ledger rows are
    # what the attacker removes.
    ledger_models.UnitState.objects.filter(last_event_id=last.pk).delete()
    for table in ("ledger_eventepc", "ledger_event"):
        column = "event_id" if table == "ledger_eventepc" else "id"
        unprotected(f"DELETE FROM {table} WHERE {column} = %s", [last.pk], tables=(table,))
    report = verify()

    assert not report.ok
    assert report.problems[0].seq == seal.seq
    assert "sealed 2 events but the ledger now holds 1" in report.problems[0].message


def test_an_inserted_ledger_event_is_found(unprotected) -> None:
    ledger.capture_document(
        data=b.document(b.commission([b.sgtin("I1")], "2026-01-05T08:00:00Z")), user=None
    )
    event = ledger_models.Event.objects.get()

    unprotected(
        "INSERT INTO ledger_event (event_id, event_type, action, event_time, "
        "event_time_zone_offset, record_time, content_sha256, document) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [
            "urn:uuid:forged",
            event.event_type,
            event.action,
            event.event_time,
            event.event_time_zone_offset,
            event.record_time,
            event.content_sha256,
            json.dumps(event.document),
        ],
        tables=("ledger_event",),
    )
    report = verify()

    assert not report.ok
    assert "is not sealed by any capture entry" in report.problems[0].message


def test_epcis_named_queries_and_subscriptions_are_audited_without_their_secret(
    admin_user,
) -> None:
    from medtrace.ledger.epcis_query_subscriptions import (
        named_query_create,
        named_query_delete,
        subscription_create,
    )

    query = named_query_create(
        data={"name": "shipped", "query": {"EQ_bizStep": ["shipping"]}}, user=admin_user
    )
    subscription_create(
        query=query,
        data={
            "dest": "https://erp.example.com/cb",
            "signatureToken": "s3cret-hmac",
            "stream": True,
        },
        user=admin_user,
    )
    named_query_delete(query=query, user=admin_user)

    entries = list(AuditEntry.objects.filter(object_type__startswith="ledger.").order_by("seq"))
    assert [(e.object_type, e.action) for e in entries] == [
        ("ledger.namedquery", "create"),
        ("ledger.querysubscription", "create"),
        ("ledger.querysubscription", "delete"),
        ("ledger.namedquery", "delete"),
    ]
    assert all(e.actor == admin_user for e in entries)
    assert "s3cret-hmac" not in json.dumps([e.changes for e in entries])
    assert verify().ok
