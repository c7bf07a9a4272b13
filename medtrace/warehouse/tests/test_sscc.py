"""SSCCs: extension digit + our GS1 company prefix + serial reference + check digit; each one
handed out once, ever, even by stations allocating at the same moment."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from medtrace.errors import ValidationFailed
from medtrace.lib import udi
from medtrace.lifecycle import events as ev
from medtrace.warehouse import services
from medtrace.warehouse.models import Container, SsccCounter

from .factories import site


@pytest.mark.django_db
def test_an_sscc_is_extension_digit_company_prefix_serial_reference_and_check_digit() -> None:
    site()

    ssccs = services.sscc_allocate(count=3)

    assert ssccs == ["069012340000000016", "069012340000000023", "069012340000000030"]
    for sscc in ssccs:
        assert len(sscc) == 18 and sscc[0] == "0" and sscc[1:8] == "6901234"
        assert udi.gs1_check_digit(sscc[:17]) == sscc[17]
        assert udi.validate_sscc(sscc) == sscc
    (other,) = services.sscc_allocate(extension_digit="3")
    assert other == "369012340000000017"
    assert udi.is_valid_gs1_check_digit(other)


@pytest.mark.django_db
def test_a_container_gets_its_sscc_and_urn_and_the_creation_is_audited() -> None:
    from medtrace.audit.models import AuditEntry

    site()
    case = services.container_create(level="pallet", user=None)

    assert case.sscc == "069012340000000016"
    assert case.epc == udi.sscc_urn(case.sscc, 7) == "urn:epc:id:sscc:6901234.0000000001"
    assert case.level == "pallet" and case.status == "open"
    assert AuditEntry.objects.filter(object_type="warehouse.container", object_id=str(case.pk))


@pytest.mark.django_db
def test_an_sscc_the_ledger_already_knows_is_skipped() -> None:
    # given SSCCs under our prefix captured from another system (the demo's event generator
    # numbers its cases and pallets from 1)
    s = site()
    known = [udi.sscc_urn(sscc, 7) for sscc in ("069012340000000016", "069012340000000030")]
    unit = s.w.device_sn("K1")
    ev.emit(
        [ev.object_event(action="ADD", epcs=[unit], biz_step="commissioning")]
        + [ev.aggregation_event(action="ADD", parent=p, children=[unit]) for p in known[:1]]
        + [ev.object_event(epcs=[known[1]], biz_step="storing")],
        user=None,
    )

    got = services.sscc_allocate(count=3)

    assert got == ["069012340000000023", "069012340000000047", "069012340000000054"]


@pytest.mark.django_db
def test_an_sscc_is_never_reused_even_when_the_counter_is_set_back() -> None:
    site()
    first = services.container_create(user=None)
    SsccCounter.objects.update(next_value=1)

    second = services.container_create(user=None)

    assert second.sscc != first.sscc
    assert Container.objects.count() == 2


@pytest.mark.django_db
def test_wrong_extension_digit_or_level_is_refused_with_the_field() -> None:
    site()
    with pytest.raises(ValidationFailed) as exc:
        services.sscc_allocate(extension_digit="x")
    assert exc.value.field == "extension_digit"
    with pytest.raises(ValidationFailed) as exc:
        services.container_create(level="crate", user=None)
    assert exc.value.field == "level" and "case or pallet" in exc.value.message
    assert not Container.objects.exists()


THREADS, EACH = 6, 15


@pytest.mark.django_db(transaction=True)
def test_concurrent_packing_stations_never_get_the_same_sscc() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race is a PostgreSQL concern")
    site()
    start = threading.Barrier(THREADS)
    got: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def station() -> None:
        try:
            start.wait()
            for _ in range(EACH):
                with transaction.atomic():
                    box = services.container_create(user=None)
                with lock:
                    got.append(box.sscc)
        except BaseException as exc:  # reported below, not lost in the thread
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=station) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert len(got) == len(set(got)) == THREADS * EACH
    references = sorted(int(s[8:17]) for s in got)
    assert references == list(range(1, THREADS * EACH + 1))
    assert all(udi.is_valid_gs1_check_digit(s) for s in got)
    assert Container.objects.count() == THREADS * EACH
