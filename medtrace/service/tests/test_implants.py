"""Implant records: encryption at rest, masking, audited reveal, partner scoping, and that patient
data stays out of the ledger, EPCIS, traces, the audit trail and list output (DESIGN §8)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import FieldError
from django.db import connection
from django.test import Client, override_settings

from medtrace.accounts.models import User
from medtrace.audit.models import AuditAction, AuditEntry
from medtrace.errors import Conflict, PermissionDenied, ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lib import udi
from medtrace.lib.fieldcrypt import FieldCryptError
from medtrace.lib.hashing import sha256_hex
from medtrace.masterdata.models import Party, Product
from medtrace.masterdata.tests import factories as md
from medtrace.service import selectors, services
from medtrace.service.models import ImplantRecord
from medtrace.trace.tests import factories as f

pytestmark = pytest.mark.django_db

NAME, ID_NUMBER, PHONE = "张三丰", "11010519491231002X", "13812345678"
SECRETS = (NAME, ID_NUMBER, PHONE)
ALL_SCOPES = [
    "implants:read",
    "implants:write",
    "implants:reveal",
    "trace:read",
    "epcis:query",
    "epcis:capture",
]


@dataclass
class Setup:
    maker: Party
    stem: Product
    hospital_a: Party
    hospital_b: Party

    @property
    def gtin(self) -> str:
        return self.stem.identifiers.get(packaging_level="unit").di

    def epc(self, serial: str) -> str:
        return udi.sgtin_urn(self.gtin, serial, 7)

    def udi(self, serial: str) -> str:
        return f"(01){self.gtin}(21){serial}"


@pytest.fixture
def s(hospital_a: User, hospital_b: User) -> Setup:
    maker = md.party(role="manufacturer", prefix="6901299", name="骨科器械")
    stem = md.product(
        manufacturer=maker,
        name="髋关节股骨柄",
        model="FS-T",
        risk_class="III",
        implantable=True,
        sterile=True,
    )
    assert hospital_a.party is not None and hospital_b.party is not None
    return Setup(maker, stem, hospital_a.party, hospital_b.party)


def _staff(username: str, role: str) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def service_eng(db: None) -> User:
    return _staff("service_eng", "service")


def _data(s: Setup, serial: str = "FS-1", hospital: Party | None = None, **extra: Any) -> dict:
    data = {
        "udi": s.udi(serial),
        "hospital_id": (hospital or s.hospital_a).pk,
        "implanted_on": "2025-03-20",
        "patient_name": NAME,
        "patient_id_number": ID_NUMBER,
        "patient_phone": PHONE,
        "surgeon": "李医生",
        "department": "骨科",
    }
    data.update(extra)
    return data


def _ship_to_hospital(s: Setup, serial: str, hospital: Party) -> str:
    epc = s.epc(serial)
    pgln = f.World.pgln
    f.capture(
        f.commission([epc], f.t(1), read_point=None),
        f.obj([epc], f.t(5), biz_step="receiving",
              sources=[("possessing_party", pgln(s.maker))],
              destinations=[("possessing_party", pgln(hospital)),
                            ("owning_party", pgln(hospital))]),
    )  # fmt: skip
    return epc


def _record(s: Setup, serial: str = "FS-1", **extra: Any) -> ImplantRecord:
    return services.implant_record_create(data=_data(s, serial, **extra), user=None)


def _raw_row(record: ImplantRecord) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM service_implantrecord WHERE id = %s", [record.pk])
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def _assert_no_secrets(text: str, where: str) -> None:
    for value in SECRETS:
        assert value not in text, f"{value!r} leaked into {where}"
    for value in (ID_NUMBER, PHONE):  # an unkeyed hash of a small space is the value itself
        assert sha256_hex(value) not in text, f"sha256 of {value!r} leaked into {where}"


# Encryption at rest ---------------------------------------------------------------------------


def test_the_database_column_holds_no_plain_text(s: Setup) -> None:
    record = _record(s)

    row = _raw_row(record)

    _assert_no_secrets(json.dumps([str(v) for v in row], ensure_ascii=False), "the table")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT patient_name, patient_id_number, patient_phone FROM service_implantrecord"
        )
        stored = cursor.fetchone()
    assert all(str(value).startswith("v1:") for value in stored)


def test_values_round_trip_through_the_database(s: Setup) -> None:
    record = _record(s)

    fresh = ImplantRecord.objects.get(pk=record.pk)
    values = ImplantRecord.objects.values("patient_name", "patient_phone").get(pk=record.pk)

    assert (fresh.patient_name, fresh.patient_id_number, fresh.patient_phone) == SECRETS
    assert values == {"patient_name": NAME, "patient_phone": PHONE}


def test_a_tampered_value_fails_loudly(s: Setup) -> None:
    record = _record(s)
    with connection.cursor() as cursor:
        cursor.execute("SELECT patient_name FROM service_implantrecord WHERE id = %s", [record.pk])
        token = cursor.fetchone()[0]
        tampered = token[:-6] + ("AAAA" if token[-6:-2] != "AAAA" else "BBBB") + token[-2:]
        cursor.execute(
            "UPDATE service_implantrecord SET patient_name = %s WHERE id = %s",
            [tampered, record.pk],
        )

    with pytest.raises(FieldCryptError, match="patient_name: the stored value cannot be decrypted"):
        ImplantRecord.objects.get(pk=record.pk)


def test_a_value_moved_to_another_column_does_not_decrypt(s: Setup) -> None:
    record = _record(s)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE service_implantrecord SET patient_phone = patient_name WHERE id = %s",
            [record.pk],
        )

    with pytest.raises(FieldCryptError, match="patient_phone"):
        ImplantRecord.objects.get(pk=record.pk)


def test_the_wrong_key_fails_loudly(s: Setup) -> None:
    record = _record(s)

    with (
        override_settings(FIELD_KEY=bytes(32)),
        pytest.raises(FieldCryptError, match="MEDTRACE_FIELD_KEY is not the key"),
    ):
        ImplantRecord.objects.get(pk=record.pk)


def test_the_database_cannot_be_searched_by_an_encrypted_value(s: Setup) -> None:
    _record(s)

    with pytest.raises(FieldError):
        ImplantRecord.objects.filter(patient_name=NAME).count()
    assert ImplantRecord.objects.filter(patient_phone__isnull=False).count() == 1


def test_serialised_records_carry_tokens_and_load_back(s: Setup) -> None:
    from django.core import serializers

    record = _record(s)
    dumped = serializers.serialize("json", ImplantRecord.objects.all())
    _assert_no_secrets(dumped, "dumpdata")

    loaded = next(iter(serializers.deserialize("json", dumped))).object
    assert isinstance(loaded, ImplantRecord)
    assert loaded.pk == record.pk and loaded.patient_name == NAME


# Validation -----------------------------------------------------------------------------------


def test_a_unit_in_the_ledger_is_linked_by_its_epc(s: Setup) -> None:
    epc = _ship_to_hospital(s, "FS-L", s.hospital_a)

    record = services.implant_record_create(data=_data(s, "FS-L", udi=epc), user=None)

    assert (record.unit_epc, record.serial, record.product) == (epc, "FS-L", s.stem)
    assert record.udi == s.udi("FS-L")


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"implanted_on": "2999-01-01"}, "implanted_on", "in the future"),
        ({"patient_id_number": "110105194912310021"}, "patient_id_number", "check character"),
        ({"patient_id_number": "1101051949123100"}, "patient_id_number", "16 digits"),
        ({"patient_phone": "12812345678"}, "patient_phone", "13 to 19"),
        ({"patient_name": "  "}, "patient_name", "required"),
        ({"udi": f"(01){'0' * 13}"}, "udi", ""),
        ({"udi": "garbage((("}, "udi", ""),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    s: Setup, change: dict[str, Any], field: str, text: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.implant_record_create(data=_data(s, **change), user=None)

    assert caught.value.field == field
    assert text in caught.value.message
    _assert_no_secrets(caught.value.message, "an error message")


def test_a_udi_without_serial_a_non_hospital_and_a_non_implant_are_refused(s: Setup) -> None:
    pump = md.product(manufacturer=s.maker, name="Pump", model="P-1")
    gtin = pump.identifiers.get().di

    with pytest.raises(ValidationFailed, match="serial number"):
        services.implant_record_create(data=_data(s, udi=f"(01){s.gtin}(10)L1"), user=None)
    with pytest.raises(ValidationFailed, match="not a hospital"):
        services.implant_record_create(data=_data(s, hospital=s.maker), user=None)
    with pytest.raises(ValidationFailed, match="not an implantable product"):
        services.implant_record_create(data=_data(s, udi=f"(01){gtin}(21)X1"), user=None)


def test_a_passport_number_is_accepted_and_one_unit_has_one_record(s: Setup) -> None:
    record = _record(s, patient_id_number="e 1234 5678")

    assert record.patient_id_number == "E12345678"
    with pytest.raises(Conflict, match="already has implant record"):
        _record(s)


def test_corrections_need_a_reason_and_keep_patient_values_out_of_the_trail(s: Setup) -> None:
    record = _record(s)
    qa = _staff("qa_fix", "qa_ra")

    with pytest.raises(ValidationFailed, match="reason"):
        services.implant_record_update(
            record=record, data={"patient_phone": "13900001111"}, user=qa, reason=""
        )
    services.implant_record_update(
        record=record,
        data={"patient_phone": "13900001111", "patient_id_number": "E12345678"},
        user=qa,
        reason="hospital corrected the phone",
    )

    entry = AuditEntry.objects.filter(action=AuditAction.UPDATE).get()
    assert entry.reason == "hospital corrected the phone"
    assert set(entry.changes) == {
        "patient_phone.fingerprint",
        "patient_id_number.fingerprint",
    }
    text = json.dumps(entry.changes, ensure_ascii=False)
    assert "13900001111" not in text and "E12345678" not in text
    _assert_no_secrets(text, "the update entry")
    found = selectors.implant_list(user=None, patient_id_number="e12345678")
    assert list(found) == [record]
    assert not selectors.implant_list(user=None, patient_id_number=ID_NUMBER).exists()


# Permissions and reveal -----------------------------------------------------------------------


def test_reveal_needs_the_permission(
    s: Setup, service_eng: User, api_client: Callable[..., Client]
) -> None:
    record = _record(s)

    response = api_client(service_eng, ALL_SCOPES).post(
        f"/api/v1/implants/{record.pk}/reveal",
        {"reason": "curious"},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"
    assert "service.reveal_implantrecord" in response.json()["message"]
    assert not AuditEntry.objects.filter(action=AuditAction.VIEW_SENSITIVE).exists()
    _assert_no_secrets(response.content.decode(), "a refused reveal")


def test_reveal_answers_plain_values_and_writes_one_audit_entry(
    s: Setup, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    record = _record(s)

    response = api_client(qa_manager, ALL_SCOPES).post(
        f"/api/v1/implants/{record.pk}/reveal",
        {"reason": "recall FSN-2025-01: call the patient"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["patient_name"], body["patient_id_number"], body["patient_phone"]) == SECRETS
    entry = AuditEntry.objects.get(action=AuditAction.VIEW_SENSITIVE)
    assert entry.actor == qa_manager and entry.actor_name == "qa_manager"
    assert entry.reason == "recall FSN-2025-01: call the patient"
    assert (entry.object_type, entry.object_id) == ("service.implantrecord", str(record.pk))
    assert body["audit_entry"] == entry.seq
    _assert_no_secrets(json.dumps(entry.changes) + entry.object_repr, "the reveal entry")


def test_reveal_needs_a_reason_and_the_token_scope(
    s: Setup, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    record = _record(s)
    url = f"/api/v1/implants/{record.pk}/reveal"

    no_reason = api_client(qa_manager, ALL_SCOPES).post(
        url, {"reason": " "}, content_type="application/json"
    )
    no_scope = api_client(qa_manager, ["implants:read"]).post(
        url, {"reason": "x"}, content_type="application/json"
    )

    assert (no_reason.status_code, no_reason.json()["field"]) == (422, "reason")
    assert no_scope.status_code == 403
    assert not AuditEntry.objects.filter(action=AuditAction.VIEW_SENSITIVE).exists()


def test_staff_without_a_role_see_nothing(s: Setup, api_client: Callable[..., Client]) -> None:
    _record(s)
    nobody = User.objects.create_user(username="nobody", password="pw")

    response = api_client(nobody, ALL_SCOPES).get("/api/v1/implants")

    assert response.status_code == 403
    with pytest.raises(PermissionDenied):
        services.implant_record_create(data=_data(s, "FS-9"), user=nobody)


def test_a_hospital_sees_only_its_own_records_masked_and_cannot_reveal(
    s: Setup, hospital_a: User
) -> None:
    own = _record(s, "FS-A")
    other = _record(s, "FS-B", hospital=s.hospital_b)
    # Partner tokens cannot carry implant scopes; partners use a signed-in session.
    client = Client()
    client.force_login(hospital_a)

    listed = client.get("/api/v1/implants").json()
    mine = client.get(f"/api/v1/implants/{own.pk}")
    theirs = client.get(f"/api/v1/implants/{other.pk}")
    reveal_theirs = client.post(
        f"/api/v1/implants/{other.pk}/reveal", {"reason": "x"}, content_type="application/json"
    )
    reveal_mine = client.post(
        f"/api/v1/implants/{own.pk}/reveal", {"reason": "x"}, content_type="application/json"
    )

    assert [r["id"] for r in listed["items"]] == [own.pk]
    assert mine.status_code == 200 and mine.json()["patient_name"] == "张**"
    assert (theirs.status_code, reveal_theirs.status_code) == (404, 404)
    assert reveal_mine.status_code == 403
    _assert_no_secrets(json.dumps(listed, ensure_ascii=False), "a partner's list")
    with pytest.raises(PermissionDenied):
        services.implant_record_create(data=_data(s, "FS-C"), user=hospital_a)


# API ------------------------------------------------------------------------------------------


def test_the_api_creates_lists_and_searches_masked(
    s: Setup, service_eng: User, api_client: Callable[..., Client]
) -> None:
    client = api_client(service_eng, ALL_SCOPES)

    created = client.post("/api/v1/implants", _data(s), content_type="application/json")
    listed = client.get("/api/v1/implants", {"unit": s.udi("FS-1")})
    by_serial = client.get("/api/v1/implants", {"unit": "FS-1"})
    elsewhere = client.get("/api/v1/implants", {"unit": s.udi("FS-2")})
    search = client.post(
        "/api/v1/implants/search",
        {"patient_id_number": ID_NUMBER.lower()},
        content_type="application/json",
    )
    one = client.get(f"/api/v1/implants/{created.json()['id']}")

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["patient_name"], body["patient_id_number"], body["patient_phone"]) == (
        "张**",
        "**************002X",
        "138****5678",
    )
    assert body["unit_epc"] == s.epc("FS-1") and body["masked"] is True
    assert listed.json()["count"] == by_serial.json()["count"] == 1
    assert elsewhere.json()["count"] == 0
    assert search.json()["count"] == 1
    for response in (created, listed, search, one):
        _assert_no_secrets(response.content.decode(), "API output")


def test_the_api_refuses_unknown_fields_and_reports_validation_errors(
    s: Setup, service_eng: User, api_client: Callable[..., Client]
) -> None:
    client = api_client(service_eng, ALL_SCOPES)

    unknown = client.post(
        "/api/v1/implants", {**_data(s), "notes": "x"}, content_type="application/json"
    )
    bad_id = client.post(
        "/api/v1/implants",
        _data(s, patient_id_number="110105194912310021"),
        content_type="application/json",
    )

    assert unknown.status_code == 422
    assert (bad_id.status_code, bad_id.json()["field"]) == (422, "patient_id_number")


def test_a_correction_through_the_api_needs_a_reason(
    s: Setup, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    record = _record(s)
    client = api_client(qa_manager, ALL_SCOPES)

    refused = client.patch(
        f"/api/v1/implants/{record.pk}",
        {"reason": "", "surgeon": "王医生"},
        content_type="application/json",
    )
    done = client.patch(
        f"/api/v1/implants/{record.pk}",
        {"reason": "wrong surgeon", "surgeon": "王医生"},
        content_type="application/json",
    )

    assert refused.status_code == 422
    assert done.status_code == 200 and done.json()["surgeon"] == "王医生"


# Patient data stays out of everything else ----------------------------------------------------


def test_patient_values_never_reach_the_ledger_epcis_traces_or_the_audit_trail(
    s: Setup, qa_manager: User, api_client: Callable[..., Client]
) -> None:
    epc = _ship_to_hospital(s, "FS-X", s.hospital_a)
    client = api_client(qa_manager, ALL_SCOPES)
    created = client.post(
        "/api/v1/implants", _data(s, "FS-X", udi=epc), content_type="application/json"
    )
    assert created.status_code == 201, created.content
    client.post(
        f"/api/v1/implants/{created.json()['id']}/reveal",
        {"reason": "check"},
        content_type="application/json",
    )

    documents = json.dumps(list(Event.objects.values_list("document", flat=True)))
    epcis = client.get("/epcis/events")
    timeline = client.get(f"/api/v1/units/{quote(epc, safe='')}/timeline")
    forward = client.get("/api/v1/trace/forward", {"id": epc})
    trail = list(AuditEntry.objects.values("changes", "object_repr", "reason"))
    listed = client.get("/api/v1/implants")

    assert epcis.status_code == 200 and timeline.status_code == 200, timeline.content
    assert epc in epcis.content.decode()
    _assert_no_secrets(documents, "Event.document")
    _assert_no_secrets(epcis.content.decode(), "EPCIS query output")
    _assert_no_secrets(timeline.content.decode(), "the unit timeline")
    _assert_no_secrets(forward.content.decode(), "the forward trace")
    _assert_no_secrets(json.dumps(trail, ensure_ascii=False, default=str), "the audit trail")
    _assert_no_secrets(listed.content.decode(), "the implant list")
    create = AuditEntry.objects.get(action=AuditAction.CREATE, object_type="service.implantrecord")
    assert create.changes["patient_name"] == "***"
    assert create.changes["patient_name.fingerprint"]


# Web page -------------------------------------------------------------------------------------


def test_the_page_lists_masked_and_reveals_with_a_reason(s: Setup, qa_manager: User) -> None:
    record = _record(s)
    client = Client()
    client.force_login(qa_manager)

    page = client.get("/implants/")
    revealed = client.post(f"/implants/{record.pk}/reveal/", {"reason": "recall call"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "张**" in html and "138****5678" in html
    _assert_no_secrets(html, "the list page")
    assert f"/implants/{record.pk}/reveal/" in html
    assert revealed.status_code == 200
    assert NAME in revealed.content.decode() and PHONE in revealed.content.decode()
    assert "no-store" in revealed["Cache-Control"]
    assert AuditEntry.objects.filter(action=AuditAction.VIEW_SENSITIVE).count() == 1


def test_the_page_offers_no_reveal_without_the_permission(
    s: Setup, service_eng: User, hospital_b: User
) -> None:
    record = _record(s)
    client = Client()
    client.force_login(service_eng)
    partner = Client()
    partner.force_login(hospital_b)

    page = client.get("/implants/")
    refused = client.post(f"/implants/{record.pk}/reveal/", {"reason": "x"})
    search = client.post("/implants/", {"patient_id_number": ID_NUMBER})
    partner_page = partner.get("/implants/")

    assert page.status_code == 200 and "张**" in page.content.decode()
    assert "/reveal/" not in page.content.decode()
    assert refused.status_code == 403
    _assert_no_secrets(refused.content.decode(), "a refused reveal page")
    assert "张**" in search.content.decode()
    assert "张**" not in partner_page.content.decode()  # another hospital's record
    assert not AuditEntry.objects.filter(action=AuditAction.VIEW_SENSITIVE).exists()


# Demo -----------------------------------------------------------------------------------------


def test_the_demo_has_masked_implant_records_at_both_hospitals_and_reloads_idempotently() -> None:
    from medtrace.masterdata.demo.load import load_demo

    # The implant records come with the demo's master data (service.demo.load_implants); the
    # department stories after it record none, and the whole demo's idempotency has its own
    # test (masterdata test_demo).
    load_demo(log=lambda _line: None, lifecycle=False)
    first = ImplantRecord.objects.count()
    load_demo(log=lambda _line: None, lifecycle=False)

    assert first >= 2 and ImplantRecord.objects.count() == first
    hospitals = set(ImplantRecord.objects.values_list("hospital__name", flat=True))
    assert len(hospitals) == 2
    assert all(r.product and r.product.implantable for r in ImplantRecord.objects.all())
    client = Client()
    assert client.login(username="hospital_b", password="medtrace-demo")
    page = client.get("/implants/").content.decode()
    assert "陈**" in page and "王**" not in page
