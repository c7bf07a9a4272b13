"""Bulk audit entries (a recall holding thousands of units): the same chain as one by one."""

from __future__ import annotations

from itertools import pairwise

import pytest

from medtrace.audit import services as audit
from medtrace.audit.models import AuditEntry
from medtrace.audit.verify import verify
from medtrace.masterdata.models import Party

pytestmark = pytest.mark.django_db


def test_many_entries_at_once_chain_like_one_by_one_and_verify() -> None:
    first = Party.objects.create(name="P0", role="supplier", gln="0950600000019")
    audit.record_create(first)
    parties = [
        Party.objects.create(name=f"P{i}", role="supplier", gln=f"095060000{i:03d}0")
        for i in range(1, 6)
    ]
    entries = audit.record_create_many(parties, reason="bulk")
    audit.record_create(Party.objects.create(name="P9", role="supplier"))

    rows = list(AuditEntry.objects.order_by("seq"))
    assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + len(rows)))
    assert [e.object_id for e in entries] == [str(p.pk) for p in parties]
    assert all(e.reason == "bulk" and e.action == "create" for e in entries)
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    assert verify(ledger=False).ok


def test_no_instances_write_no_entry() -> None:
    before = AuditEntry.objects.count()
    assert audit.record_create_many([]) == []
    assert AuditEntry.objects.count() == before
