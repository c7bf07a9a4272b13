"""Serial rules and allocation: validation, format, period reset, never reused, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from medtrace.audit.models import AuditAction, AuditEntry
from medtrace.errors import Conflict, PermissionDenied, ValidationFailed
from medtrace.masterdata.tests import factories as md
from medtrace.production import services
from medtrace.production.models import AllocatedSerial, SerialCounter, SerialRule

from .factories import rule, serial_product

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH_9 = datetime(2025, 3, 9, 10, 0, tzinfo=SHANGHAI)
APRIL_1 = datetime(2025, 4, 1, 9, 0, tzinfo=SHANGHAI)


def _fields(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [d["field"] for d in exc.value.details]


# Rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"prefix": "SN 1", "sequence_width": 5}, "prefix"),  # space: not CSET 82
        ({"prefix": "序列", "sequence_width": 5}, "prefix"),
        ({"prefix": "SN#", "sequence_width": 5}, "prefix"),
        ({"prefix": "X" * 17, "sequence_width": 2}, "prefix"),
        ({"prefix": "SN", "sequence_width": 0}, "sequence_width"),
        ({"prefix": "SN", "sequence_width": 13}, "sequence_width"),
        ({"prefix": "SN", "sequence_width": "5"}, "sequence_width"),
        ({"prefix": "SN", "date_part": "YYMMDDHH", "sequence_width": 5}, "date_part"),
        ({"prefix": "SN", "reset_policy": "monthly", "sequence_width": 5}, "reset_policy"),
        ({"prefix": "SN", "reset_policy": "per_period", "sequence_width": 5}, "reset_policy"),
        ({"prefix": "SN", "sequence_width": 5, "colour": "red"}, "colour"),
    ],
)
def test_an_invalid_rule_is_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    product = serial_product()

    with pytest.raises(ValidationFailed) as exc:
        services.serial_rule_set(product=product, data=data, user=None)

    assert exc.value.field == field, exc.value.message
    assert not SerialRule.objects.exists()


def test_a_rule_whose_serials_pass_20_characters_is_refused() -> None:
    product = serial_product()

    with pytest.raises(ValidationFailed) as exc:
        services.serial_rule_set(
            product=product,
            data={"prefix": "ABCDEFGHIJ", "date_part": "YYMMDD", "sequence_width": 5},
            user=None,
        )

    assert exc.value.field == "sequence_width"
    assert "21 characters" in exc.value.message and "at most 20" in exc.value.message


def test_every_problem_of_a_rule_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.serial_rule_set(
            product=serial_product(),
            data={"prefix": "a b", "date_part": "x", "sequence_width": 0},
            user=None,
        )

    assert _fields(exc) == ["prefix", "date_part", "sequence_width"]


def test_a_lot_tracked_product_gets_no_serial_rule() -> None:
    product = md.product(tracking="lot")

    with pytest.raises(ValidationFailed) as exc:
        services.serial_rule_set(product=product, data={"sequence_width": 5}, user=None)

    assert exc.value.field == "product" and "lot" in exc.value.message


def test_setting_a_rule_is_audited_and_changing_it_needs_a_reason(
    qa_manager: Any,
) -> None:
    product = serial_product()
    created = services.serial_rule_set(
        product=product, data={"prefix": "SN", "sequence_width": 5}, user=qa_manager
    )

    with pytest.raises(ValidationFailed) as exc:
        services.serial_rule_set(
            product=product, data={"prefix": "SX", "sequence_width": 5}, user=qa_manager
        )
    assert exc.value.field == "reason"

    changed = services.serial_rule_set(
        product=product,
        data={"prefix": "SX", "sequence_width": 6},
        user=qa_manager,
        reason="new label layout",
    )

    assert changed.pk == created.pk and SerialRule.objects.count() == 1
    entries = AuditEntry.objects.filter(object_type="production.serialrule").order_by("seq")
    assert [e.action for e in entries] == [AuditAction.CREATE, AuditAction.UPDATE]
    assert entries[1].changes["prefix"] == ["SN", "SX"]
    assert entries[1].reason == "new label layout"


def test_only_one_active_rule_per_product_is_possible() -> None:
    product = serial_product()
    rule(product)

    with pytest.raises(IntegrityError), transaction.atomic():
        SerialRule.objects.create(product=product, prefix="X", sequence_width=3)


def test_a_warehouse_clerk_cannot_set_rules_and_qa_cannot_allocate(
    warehouse_clerk: Any, qa_manager: Any
) -> None:
    product = serial_product()

    with pytest.raises(PermissionDenied):
        services.serial_rule_set(product=product, data={"sequence_width": 5}, user=warehouse_clerk)
    rule(product)
    with pytest.raises(PermissionDenied):
        services.serials_allocate(product=product, count=1, user=qa_manager)


def test_a_refused_user_is_refused_before_the_data_is_validated(warehouse_clerk: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.serial_rule_set(
            product=serial_product(), data={"prefix": "a b"}, user=warehouse_clerk
        )


# Allocation -----------------------------------------------------------------------------------


def test_serials_are_prefix_date_and_zero_padded_sequence() -> None:
    product = serial_product()
    rule(product, prefix="SN", date_part="YYMMDD", sequence_width=5)

    first = services.serials_allocate(product=product, count=3, user=None, at=MARCH_9)
    second = services.serials_allocate(product=product, count=2, user=None, at=MARCH_9)

    assert first == ["SN25030900001", "SN25030900002", "SN25030900003"]
    assert second == ["SN25030900004", "SN25030900005"]
    assert first.skipped == []


@pytest.mark.parametrize(
    ("date_part", "expected"),
    [("none", "A0001"), ("YYMM", "A25030001"), ("YYYY", "A20250001")],
)
def test_each_date_part_format(date_part: str, expected: str) -> None:
    product = serial_product()
    rule(product, prefix="A", date_part=date_part, sequence_width=4)

    assert services.serials_allocate(product=product, count=1, user=None, at=MARCH_9) == [expected]


def test_the_date_part_is_the_date_in_the_configured_time_zone() -> None:
    product = serial_product()
    rule(product, prefix="", date_part="YYMMDD", sequence_width=3)
    # 2025-03-08 17:00 UTC is already 2025-03-09 01:00 in Shanghai.
    late_utc = datetime(2025, 3, 8, 17, 0, tzinfo=ZoneInfo("UTC"))

    assert services.serials_allocate(product=product, count=1, user=None, at=late_utc) == [
        "250309001"
    ]


def test_the_sequence_resets_with_each_new_period_when_the_rule_says_so() -> None:
    product = serial_product()
    rule(product, prefix="P", date_part="YYMM", sequence_width=3, reset_policy="per_period")

    march = services.serials_allocate(product=product, count=2, user=None, at=MARCH_9)
    april = services.serials_allocate(product=product, count=2, user=None, at=APRIL_1)
    march_again = services.serials_allocate(product=product, count=1, user=None, at=MARCH_9)

    assert march == ["P2503001", "P2503002"]
    assert april == ["P2504001", "P2504002"]
    assert march_again == ["P2503003"]
    assert SerialCounter.objects.filter(product=product).count() == 2


def test_without_reset_the_sequence_runs_on_across_periods() -> None:
    product = serial_product()
    rule(product, prefix="P", date_part="YYMM", sequence_width=3)

    services.serials_allocate(product=product, count=2, user=None, at=MARCH_9)

    assert services.serials_allocate(product=product, count=1, user=None, at=APRIL_1) == [
        "P2504003"
    ]


def test_a_serial_is_never_reused_across_a_rule_change() -> None:
    # given serials SN2503001..005 from a rule with a fixed prefix
    product = serial_product()
    rule(product, prefix="SN2503", sequence_width=3)
    old = services.serials_allocate(product=product, count=5, user=None, at=MARCH_9)
    # when the rule changes to one whose March serials start at the same numbers
    services.serial_rule_set(
        product=product,
        data={
            "prefix": "SN",
            "date_part": "YYMM",
            "sequence_width": 3,
            "reset_policy": "per_period",
        },
        user=None,
        reason="date in the serial",
    )
    new = services.serials_allocate(product=product, count=3, user=None, at=MARCH_9)

    # then the allocator skips the taken ones and says so
    assert new == ["SN2503006", "SN2503007", "SN2503008"]
    assert new.skipped == list(old)
    assert AllocatedSerial.objects.filter(product=product).count() == 8


def test_skipping_works_around_gaps_in_the_taken_serials() -> None:
    product = serial_product()
    rule(product, prefix="Q", sequence_width=2)
    for serial in ("Q02", "Q04"):  # e.g. from an earlier rule
        AllocatedSerial.objects.create(
            product=product, serial=serial, allocated_at=MARCH_9, batch="0" * 32
        )

    got = services.serials_allocate(product=product, count=4, user=None, at=MARCH_9)

    assert got == ["Q01", "Q03", "Q05", "Q06"]
    assert got.skipped == ["Q02", "Q04"]


def test_the_database_refuses_a_duplicate_serial_whatever_the_code_does() -> None:
    product = serial_product()
    rule(product)
    (serial,) = services.serials_allocate(product=product, count=1, user=None)

    with pytest.raises(IntegrityError), transaction.atomic():
        AllocatedSerial.objects.create(
            product=product, serial=serial, allocated_at=MARCH_9, batch="0" * 32
        )


def test_the_same_serial_may_exist_for_two_products() -> None:
    one, two = serial_product(), serial_product()
    rule(one)
    rule(two)

    assert services.serials_allocate(product=one, count=1, user=None) == services.serials_allocate(
        product=two, count=1, user=None
    )


@pytest.mark.parametrize("count", [0, -1, 100_001, "10", 2.5, True])
def test_the_count_must_be_1_to_100000(count: Any) -> None:
    product = serial_product()
    rule(product)

    with pytest.raises(ValidationFailed) as exc:
        services.serials_allocate(product=product, count=count, user=None)

    assert exc.value.field == "count" and "1 to 100,000" in exc.value.message


def test_a_product_without_a_rule_gets_no_serials() -> None:
    product = serial_product()

    with pytest.raises(Conflict) as exc:
        services.serials_allocate(product=product, count=1, user=None)

    assert "no serial rule" in exc.value.message


def test_a_lot_tracked_product_gets_no_serials() -> None:
    with pytest.raises(ValidationFailed) as exc:
        services.serials_allocate(product=md.product(tracking="lot"), count=1, user=None)

    assert "not by serial" in exc.value.message


def test_a_rule_that_became_too_long_is_refused_at_allocation() -> None:
    # given a rule stored before validation (e.g. edited in the database)
    product = serial_product()
    SerialRule.objects.create(product=product, prefix="X" * 16, sequence_width=5)

    with pytest.raises(ValidationFailed) as exc:
        services.serials_allocate(product=product, count=1, user=None)

    assert "21 characters" in exc.value.message and "at most 20" in exc.value.message


def test_an_exhausted_sequence_is_refused_and_nothing_is_allocated() -> None:
    product = serial_product()
    rule(product, prefix="Z", sequence_width=1)
    services.serials_allocate(product=product, count=8, user=None)

    with pytest.raises(Conflict) as exc:
        services.serials_allocate(product=product, count=2, user=None)

    assert "exhausted" in exc.value.message
    assert AllocatedSerial.objects.filter(product=product).count() == 8
    assert services.serials_allocate(product=product, count=1, user=None) == ["Z9"]


def test_one_allocation_writes_one_audit_entry_and_records_who_and_what(
    admin_user: Any,
) -> None:
    product = serial_product()
    rule(product)
    before = AuditEntry.objects.count()

    serials = services.serials_allocate(
        product=product, count=50, user=admin_user, work_order_ref="WO-1"
    )

    entries = AuditEntry.objects.order_by("seq")[before:]
    assert len(entries) == 1
    entry = entries[0]
    assert entry.action == AuditAction.CREATE
    assert entry.object_type == "production.allocatedserial"
    assert entry.object_id == serials[0]
    assert entry.changes["count"] == 50
    assert (entry.changes["first"], entry.changes["last"]) == (serials[0], serials[-1])
    assert entry.actor_id == admin_user.pk
    rows = AllocatedSerial.objects.filter(product=product)
    assert {r.allocated_by_id for r in rows} == {admin_user.pk}
    assert {r.work_order_ref for r in rows} == {"WO-1"}
    assert {r.batch for r in rows} == {serials.batch}


@pytest.mark.parametrize("statement", ["UPDATE {t} SET serial = 'X'", "DELETE FROM {t}"])
def test_postgresql_refuses_to_change_or_delete_an_allocated_serial(statement: str) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    product = serial_product()
    rule(product)
    services.serials_allocate(product=product, count=1, user=None)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement.format(t=AllocatedSerial._meta.db_table))
