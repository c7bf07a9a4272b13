"""Seals: the ledger rows of each capture job, fingerprinted into the audit chain.

The ledger is append-only (PostgreSQL triggers), but a raw edit on SQLite, or by a superuser
who drops a trigger, must still be found. So every capture appends one audit entry
(action ``capture``) holding a running SHA-256 over every row it wrote: the event's columns and
stored document, and its index rows (EPCs, quantities, business transactions, sources and
destinations), then its errorDeclarations. ``medtrace audit verify`` recomputes each seal from
the stored rows and names the first event that no longer matches.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from medtrace.lib.hashing import sha256_hex

_SIX = Decimal("0.000001")


def _quantity(value: Any) -> Any:
    # Stored as DECIMAL(20, 6): hash the value as the database keeps it.
    if value is None:
        return None
    return Decimal(str(value)).quantize(_SIX)


def event_digest(
    columns: Sequence[Any],
    *,
    epcs: Iterable[tuple[str, str]],
    quantities: Iterable[tuple[str, Any, Any, str | None]],
    biz_transactions: Iterable[tuple[str | None, str]],
    source_dests: Iterable[tuple[str, str, str]],
) -> str:
    """One event's fingerprint. ``columns`` in ``EVENT_COLUMNS`` order (without id and job)."""
    return sha256_hex(
        [
            list(columns),
            sorted(f"{role}\x1f{epc}" for role, epc in epcs),
            sorted(
                f"{role}\x1f{cls}\x1f{_quantity(qty)}\x1f{uom or ''}"
                for role, cls, qty, uom in quantities
            ),
            sorted(f"{typ or ''}\x1f{value}" for typ, value in biz_transactions),
            sorted(f"{kind}\x1f{typ}\x1f{value}" for kind, typ, value in source_dests),
        ]
    )


def retraction_digest(columns: Sequence[Any]) -> str:
    return sha256_hex(list(columns))


# The Event columns a seal covers, in order (id and capture_job_id are the seal's own frame).
EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "action",
    "event_time",
    "event_time_zone_offset",
    "record_time",
    "biz_step",
    "disposition",
    "read_point",
    "biz_location",
    "content_sha256",
    "document",
)
RETRACTION_COLUMNS = (
    "event_id",
    "declaration_time",
    "reason",
    "corrective_event_ids",
    "record_time",
    "document",
)


@dataclass
class Sealer:
    """Running digests of one capture job, in write (primary key) order."""

    events: int = 0
    retractions: int = 0
    _events: Any = field(default_factory=hashlib.sha256)
    _retractions: Any = field(default_factory=hashlib.sha256)

    def add_event(self, digest: str) -> None:
        self.events += 1
        self._events.update(digest.encode("ascii"))

    def add_retraction(self, digest: str) -> None:
        self.retractions += 1
        self._retractions.update(digest.encode("ascii"))

    def as_changes(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "events_sha256": self._events.hexdigest(),
            "retractions": self.retractions,
            "retractions_sha256": self._retractions.hexdigest(),
        }


# Recomputing from the stored rows (verify) ------------------------------------------------------

_BATCH = 2000


@dataclass
class SealMismatch:
    job_id: str
    message: str


def _event_batches(job_id: Any) -> Iterator[list[tuple[Any, ...]]]:
    from .models import Event

    last = 0
    while True:
        rows = list(
            Event.objects.filter(capture_job_id=job_id, id__gt=last)
            .order_by("id")
            .values_list("id", *EVENT_COLUMNS)[:_BATCH]
        )
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def recompute_job(job_id: Any) -> tuple[dict[str, Any], dict[int, str]]:
    """The seal of one job as the stored rows give it now, and each event's digest by pk."""
    from .models import (
        EventBizTransaction,
        EventEpc,
        EventQuantity,
        EventRetraction,
        EventSourceDest,
    )

    sealer = Sealer()
    digests: dict[int, str] = {}
    for rows in _event_batches(job_id):
        ids = [row[0] for row in rows]
        epcs: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for event_id, role, epc in EventEpc.objects.filter(event_id__in=ids).values_list(
            "event_id", "role", "epc"
        ):
            epcs[event_id].append((role, epc))
        qtys: dict[int, list[tuple[str, Any, Any, str | None]]] = defaultdict(list)
        for event_id, role, cls, qty, uom in EventQuantity.objects.filter(
            event_id__in=ids
        ).values_list("event_id", "role", "epc_class", "quantity", "uom"):
            qtys[event_id].append((role, cls, qty, uom))
        btts: dict[int, list[tuple[str | None, str]]] = defaultdict(list)
        for event_id, typ, value in EventBizTransaction.objects.filter(
            event_id__in=ids
        ).values_list("event_id", "type", "value"):
            btts[event_id].append((typ, value))
        sds: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
        for event_id, kind, typ, value in EventSourceDest.objects.filter(
            event_id__in=ids
        ).values_list("event_id", "kind", "type", "value"):
            sds[event_id].append((kind, typ, value))
        for row in rows:
            pk = row[0]
            digest = event_digest(
                row[1:],
                epcs=epcs[pk],
                quantities=qtys[pk],
                biz_transactions=btts[pk],
                source_dests=sds[pk],
            )
            digests[pk] = digest
            sealer.add_event(digest)
    for row in (
        EventRetraction.objects.filter(capture_job_id=job_id)
        .order_by("id")
        .values_list(*RETRACTION_COLUMNS)
    ):
        sealer.add_retraction(retraction_digest(row))
    return sealer.as_changes(), digests
