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

_BATCH = 5000


def _children(model: Any, columns: tuple[str, ...], first: int, last: int) -> dict[int, list[Any]]:
    """Index rows of the events with primary keys first..last, grouped by event (one query)."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in model.objects.filter(event_id__gte=first, event_id__lte=last).values_list(
        "event_id", *columns
    ):
        grouped[row[0]].append(row[1:])
    return grouped


def event_digests(*, job_id: Any = None) -> Iterator[tuple[int, Any, str]]:
    """(pk, capture job id, digest) of every stored event, in primary-key order.

    One pass over the ledger: 5 queries per 5,000 events, child rows fetched by primary-key
    range, so memory stays flat whatever the store's size. ``job_id`` limits it to one job.
    """
    from .models import Event, EventBizTransaction, EventEpc, EventQuantity, EventSourceDest

    base = Event.objects.all() if job_id is None else Event.objects.filter(capture_job_id=job_id)
    last = 0
    while True:
        rows = list(
            base.filter(id__gt=last)
            .order_by("id")
            .values_list("id", "capture_job_id", *EVENT_COLUMNS)[:_BATCH]
        )
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        epcs = _children(EventEpc, ("role", "epc"), first, last)
        qtys = _children(EventQuantity, ("role", "epc_class", "quantity", "uom"), first, last)
        btts = _children(EventBizTransaction, ("type", "value"), first, last)
        sds = _children(EventSourceDest, ("kind", "type", "value"), first, last)
        for row in rows:
            pk = row[0]
            digest = event_digest(
                row[2:],
                epcs=epcs.get(pk, ()),
                quantities=qtys.get(pk, ()),
                biz_transactions=btts.get(pk, ()),
                source_dests=sds.get(pk, ()),
            )
            yield pk, row[1], digest


def retraction_digests() -> Iterator[tuple[int, Any, str]]:
    """(pk, capture job id, digest) of every stored errorDeclaration, in primary-key order."""
    from .models import EventRetraction

    last = 0
    while True:
        rows = list(
            EventRetraction.objects.filter(id__gt=last)
            .order_by("id")
            .values_list("id", "capture_job_id", *RETRACTION_COLUMNS)[:_BATCH]
        )
        if not rows:
            return
        last = rows[-1][0]
        for row in rows:
            yield row[0], row[1], retraction_digest(row[2:])
