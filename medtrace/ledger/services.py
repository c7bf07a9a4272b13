"""Ledger writes: EPCIS capture (documents and single events), retractions, rebuild.

Capture follows DESIGN §4/§6: the whole document is validated first, then written in one
transaction with bulk inserts (Event rows, their index rows, projections). Nothing partial is
ever stored under the default `rollback` behaviour.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from django.db import transaction
from django.utils import timezone

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.audit.models import AuditAction
from medtrace.core.bulk_insert import insert_records
from medtrace.lib import epcis
from medtrace.lib.epcis.event_hash import event_hash

from . import bulk, seal
from .facts import Fact
from .identifiers import EpcResolver
from .models import (
    CaptureJob,
    Event,
    EventBizTransaction,
    EventEpc,
    EventQuantity,
    EventRetraction,
    EventSourceDest,
    GenealogyEdge,
    UnitCustody,
    UnitState,
)
from .projections import project

ROLLBACK = "rollback"
PROCEED = "proceed"
CAPTURE_LIMIT = 1_000_000  # events per document (GS1-EPCIS-Capture-Limit)
# Documents are read whole below this size and streamed above it (flat memory, DESIGN §10).
STREAM_THRESHOLD = 16 * 1024 * 1024
STREAM_CHUNK = 5000  # events written per round trip when streaming
CAPTURE_FILE_SIZE_LIMIT = 1024 * 1024 * 1024  # bytes (GS1-EPCIS-Capture-File-Size-Limit)


@dataclass
class CaptureProblem:
    """One reason an event was not captured: which event, which field, what is wrong."""

    index: int | None
    field: str | None
    message: str
    type: str = "epcisException:ValidationException"

    def as_dict(self) -> dict[str, Any]:
        """RFC 7807 problem, with the event index and field as extension members."""
        where = f"event {self.index}" if self.index is not None else "document"
        if self.field:
            where += f", field {self.field}"
        return {
            "type": self.type,
            "title": f"{where}: {self.message}",
            "status": 400,
            "detail": self.message,
            "eventIndex": self.index,
            "field": self.field,
        }


class CaptureRejected(Exception):
    """The document as a whole was refused; nothing was stored."""

    def __init__(
        self,
        problems: list[CaptureProblem],
        *,
        status: int = 400,
        type: str = "epcisException:ValidationException",
    ) -> None:
        super().__init__(problems[0].message if problems else "capture rejected")
        self.problems = problems
        self.status = status
        self.type = type


@dataclass
class _Prepared:
    event: epcis.Event
    event_id: str
    content_sha256: str
    context: Any
    epcs: dict[str, list[str]] = field(default_factory=dict)
    # quantity role -> canonical EPC classes, in quantity-element order
    classes: list[str] = field(default_factory=list)


def _sha256(raw: Mapping[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _issues_to_problems(exc: epcis.EpcisValidationError) -> list[CaptureProblem]:
    return [CaptureProblem(i.index, i.field, i.message) for i in exc.issues]


def _prepare(ev: epcis.Event, context: Any, resolver: EpcResolver) -> _Prepared:
    raw = ev.raw
    event_id = ev.event_id or event_hash(raw, context=context)
    canon = resolver.canonical
    epcs = {
        "epc": [canon(e) for e in ev.epc_list],
        "parent": [canon(ev.parent_id)] if ev.parent_id else [],
        "child": [canon(e) for e in ev.child_epcs],
        "input": [canon(e) for e in ev.input_epcs],
        "output": [canon(e) for e in ev.output_epcs],
    }
    classes = [canon(q.epc_class) for q in ev.quantities]
    return _Prepared(ev, event_id, _sha256(raw), context, epcs, classes)


def _fact(prep: _Prepared, pk: int) -> Fact:
    ev = prep.event
    quantities: dict[str, list[str]] = {"quantity": [], "child": [], "input": [], "output": []}
    for q, cls in zip(ev.quantities, prep.classes, strict=True):
        quantities[q.role].append(cls)
    return Fact(
        pk=pk,
        type=ev.type,
        action=ev.action,
        time=ev.event_time,
        biz_step=ev.biz_step,
        disposition=ev.disposition,
        read_point=ev.read_point,
        biz_location=ev.biz_location,
        epcs=prep.epcs["epc"],
        parent=prep.epcs["parent"][0] if prep.epcs["parent"] else None,
        children=prep.epcs["child"],
        inputs=prep.epcs["input"],
        outputs=prep.epcs["output"],
        epc_classes=quantities["quantity"],
        child_classes=quantities["child"],
        input_classes=quantities["input"],
        output_classes=quantities["output"],
        sources=list(ev.sources),
        destinations=list(ev.destinations),
        ilmd=ev.ilmd,
    )


def _as_list(context: Any) -> list[Any]:
    if context is None:
        return []
    return list(context) if isinstance(context, list) else [context]


def _stored_document(prep: _Prepared, record_time: datetime) -> dict[str, Any]:
    document = dict(prep.event.raw)
    document.setdefault("eventID", prep.event_id)
    document["recordTime"] = record_time.isoformat().replace("+00:00", "Z")
    if prep.context is not None:
        # Keep every namespace the event's extensions were written with: the document's
        # @context first, then the event's own, which JSON-LD lets override it.
        own = _as_list(document.get("@context"))
        merged = _as_list(prep.context) + [c for c in own if c not in _as_list(prep.context)]
        document["@context"] = merged
    return document


# Insert order of the Event columns: the sealed columns (seal.EVENT_COLUMNS) with the primary key
# first and the capture job after biz_location, as the rows of ``_write`` hold them.
_EVENT_COLUMNS = ("id", *seal.EVENT_COLUMNS[:10], "capture_job_id", *seal.EVENT_COLUMNS[10:])


def _sealer(job: CaptureJob | None) -> seal.Sealer:
    """The running seal of ``job``, created on its first write (see ``ledger/seal.py``)."""
    if job is None:
        raise ValueError("ledger rows are always written under a capture job")
    sealer: seal.Sealer | None = getattr(job, "_seal", None)
    if sealer is None:
        sealer = seal.Sealer()
        job._seal = sealer  # type: ignore[attr-defined]
    return sealer


def _seal_job(job: CaptureJob, user: User | None) -> None:
    """Append the job's seal to the audit chain, in the capture's transaction."""
    audit.record(
        action=AuditAction.CAPTURE,
        object_type="ledger.capturejob",
        object_id=job.pk,
        object_repr=f"capture {job.pk}",
        changes=_sealer(job).as_changes(),
        user=user,
    )


def _write(prepared: list[_Prepared], job: CaptureJob | None) -> list[tuple[_Prepared, int]]:
    """Insert Event rows and their index rows in bulk; returns (prepared, pk) pairs."""
    if not prepared:
        return []
    now = timezone.now()
    job_id = job.pk if job is not None else None
    values = [
        (
            p.event_id,
            p.event.type,
            p.event.action,
            p.event.event_time,
            p.event.event_time_zone_offset,
            now,
            p.event.biz_step,
            p.event.disposition,
            p.event.read_point,
            p.event.biz_location,
            job_id,
            p.content_sha256,
            _stored_document(p, now),
        )
        for p in prepared
    ]
    if bulk.is_postgresql() and len(values) >= bulk.COPY_THRESHOLD:
        ids = bulk.reserve_ids(Event, len(values))
        bulk.insert_rows(
            Event,
            _EVENT_COLUMNS,
            [(pk, *row) for pk, row in zip(ids, values, strict=True)],
            json_columns=("document",),
        )
    else:
        rows = [Event(**dict(zip(_EVENT_COLUMNS[1:], row, strict=True))) for row in values]
        if len(rows) >= bulk.COPY_THRESHOLD:
            insert_records(Event, rows)  # one executemany (SQLite), ids reserved first
        else:
            Event.objects.bulk_create(rows, batch_size=2000)
        ids = [row.pk for row in rows]
    pairs = list(zip(prepared, ids, strict=True))
    sealer = _sealer(job)
    epc_rows: list[tuple[Any, ...]] = []
    qty_rows: list[tuple[Any, ...]] = []
    btt_rows: list[tuple[Any, ...]] = []
    sd_rows: list[tuple[Any, ...]] = []
    for (p, pk), row in zip(pairs, values, strict=True):
        t = p.event.event_time
        for role, epcs in p.epcs.items():
            epc_rows.extend((pk, epc, role, t) for epc in epcs)
        quantities = [
            (q.role, cls, q.quantity, q.uom)
            for q, cls in zip(p.event.quantities, p.classes, strict=True)
        ]
        qty_rows.extend((pk, cls, qty, uom, role, t) for role, cls, qty, uom in quantities)
        btt_rows.extend((pk, typ, value) for typ, value in p.event.biz_transactions)
        sds = [("source", typ, value) for typ, value in p.event.sources]
        sds += [("destination", typ, value) for typ, value in p.event.destinations]
        sd_rows.extend((pk, *sd) for sd in sds)
        sealer.add_event(
            seal.event_digest(
                row[:10] + row[11:],  # the sealed columns: all but the capture job
                epcs=[(role, epc) for role, epcs in p.epcs.items() for epc in epcs],
                quantities=quantities,
                biz_transactions=p.event.biz_transactions,
                source_dests=sds,
            )
        )
    bulk.insert_rows(EventEpc, ("event_id", "epc", "role", "event_time"), epc_rows)
    bulk.insert_rows(
        EventQuantity, ("event_id", "epc_class", "quantity", "uom", "role", "event_time"), qty_rows
    )
    bulk.insert_rows(EventBizTransaction, ("event_id", "type", "value"), btt_rows)
    bulk.insert_rows(EventSourceDest, ("event_id", "kind", "type", "value"), sd_rows)
    return pairs


def _existing(event_ids: list[str]) -> dict[str, tuple[int, str]]:
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(event_ids), 2000):
        part = event_ids[start : start + 2000]
        for pk, eid, sha in Event.objects.filter(event_id__in=part).values_list(
            "id", "event_id", "content_sha256"
        ):
            found[eid] = (pk, sha)
    return found


@dataclass
class _Plan:
    new: list[_Prepared] = field(default_factory=list)
    retractions: list[tuple[_Prepared, int | None]] = field(default_factory=list)
    duplicates: int = 0
    problems: list[CaptureProblem] = field(default_factory=list)


def _plan(prepared: list[_Prepared]) -> _Plan:
    plan = _Plan()
    existing = _existing([p.event_id for p in prepared])
    seen: dict[str, _Prepared] = {}
    for p in prepared:
        declaration = p.event.error_declaration
        if declaration is not None:
            stored = existing.get(p.event_id)
            plan.retractions.append((p, stored[0] if stored else None))
            continue
        earlier = seen.get(p.event_id)
        stored = existing.get(p.event_id)
        if earlier is not None or stored is not None:
            same = (earlier.content_sha256 if earlier else stored[1]) == p.content_sha256  # type: ignore[index]
            if same:
                plan.duplicates += 1  # idempotent re-send: stored once
                continue
            plan.problems.append(
                CaptureProblem(
                    p.event.index,
                    "eventID",
                    f"eventID {p.event_id} is already used by a different event; an eventID "
                    "names exactly one event (correct an event with an errorDeclaration)",
                )
            )
            continue
        seen[p.event_id] = p
        plan.new.append(p)
    return plan


def _retract(
    retractions: list[tuple[_Prepared, int | None]], pairs: dict[str, int], job: CaptureJob | None
) -> tuple[bool, set[int]]:
    """Store errorDeclarations in bulk.

    Returns whether an event already reflected in the projections was retracted (they must be
    recomputed), and the pks of events written in this batch that are retracted already (they
    must simply not be projected).
    """
    now = timezone.now()
    targets = [pk for _prep, pk in retractions if pk is not None]
    done = set(
        EventRetraction.objects.filter(event_id__in=targets).values_list("event_id", flat=True)
    )
    rows = []
    projected_retracted = False
    fresh: set[int] = set()
    for prep, pk in retractions:
        declaration = prep.event.error_declaration
        assert declaration is not None
        target = pk
        if target is None and prep.event_id in pairs:
            target = pairs[prep.event_id]
            fresh.add(target)
        elif target is None:
            # A declaration for an event we never had: keep the event itself, already retracted.
            target = _write([prep], job)[0][1]
        if target in done:
            continue  # the same declaration again: idempotent
        done.add(target)
        if pk is not None:
            projected_retracted = True
        rows.append(
            EventRetraction(
                event_id=target,
                declaration_time=declaration.declaration_time,
                reason=declaration.reason,
                corrective_event_ids=list(declaration.corrective_event_ids),
                record_time=now,
                capture_job=job,
                document=_stored_document(prep, now),
            )
        )
    EventRetraction.objects.bulk_create(rows)
    sealer = _sealer(job)
    for row in rows:
        sealer.add_retraction(
            seal.retraction_digest([getattr(row, name) for name in seal.RETRACTION_COLUMNS])
        )
    return projected_retracted, fresh


def _store(
    prepared: list[_Prepared], job: CaptureJob | None, resolver: EpcResolver, *, behaviour: str
) -> tuple[int, list[CaptureProblem]]:
    plan = _plan(prepared)
    if plan.problems and behaviour == ROLLBACK:
        raise CaptureRejected(plan.problems, status=409)
    pairs = _write(plan.new, job)
    retracted = False
    fresh: set[int] = set()
    if plan.retractions:
        retracted, fresh = _retract(plan.retractions, {p.event_id: pk for p, pk in pairs}, job)
    if retracted:
        # Undoing an event already projected: recompute from the ledger (see the issue note on
        # the cost at scale; a scoped replay is the planned refinement).
        rebuild(resolver=resolver)
    else:
        project([_fact(p, pk) for p, pk in pairs if pk not in fresh], resolver)
    if pairs or plan.retractions:
        from .epcis_push import capture_recorded

        capture_recorded()  # stream subscriptions: delivered once this commits
    return len(pairs) + len(plan.retractions), plan.problems


def _parse(
    data: bytes | str | Mapping[str, Any], behaviour: str
) -> tuple[list[epcis.Event], Any, list[CaptureProblem]]:
    try:
        document = epcis.parse_document(data)
    except epcis.EpcisValidationError as exc:
        problems = _issues_to_problems(exc)
        bad = {p.index for p in problems}
        if behaviour != PROCEED or None in bad:
            raise CaptureRejected(problems) from exc
        raw = json.loads(data) if isinstance(data, bytes | str) else data
        good_events = [e for i, e in enumerate(raw["epcisBody"]["eventList"]) if i not in bad]
        trimmed = {**raw, "epcisBody": {**raw["epcisBody"], "eventList": good_events}}
        document = epcis.parse_document(trimmed)
        return list(document.events), document.context, problems
    if len(document.events) > CAPTURE_LIMIT:
        raise CaptureRejected(
            [
                CaptureProblem(
                    None,
                    "epcisBody.eventList",
                    f"{len(document.events)} events exceed the capture limit of "
                    f"{CAPTURE_LIMIT}; split the document",
                    type="epcisException:CaptureLimitExceededException",
                )
            ],
            status=413,
            type="epcisException:CaptureLimitExceededException",
        )
    return list(document.events), document.context, []


def capture_document(
    *, data: bytes | str | Mapping[str, Any], user: User | None, behaviour: str = ROLLBACK
) -> CaptureJob:
    """Validate and store an EPCISDocument. Raises CaptureRejected if nothing may be stored."""
    if behaviour not in (ROLLBACK, PROCEED):
        raise CaptureRejected(
            [
                CaptureProblem(
                    None,
                    "GS1-Capture-Error-Behaviour",
                    f"unknown capture error behaviour {behaviour!r}: expected rollback or proceed",
                )
            ]
        )
    events, context, problems = _parse(data, behaviour)
    job = CaptureJob.objects.create(
        user=user, error_behaviour=behaviour, event_count=len(events) + len(problems)
    )
    resolver = EpcResolver()
    try:
        with transaction.atomic():
            prepared = [_prepare(ev, context, resolver) for ev in events]
            captured, store_problems = _store(prepared, job, resolver, behaviour=behaviour)
            _seal_job(job, user)
    except CaptureRejected as exc:
        _finish(job, captured=0, problems=problems + exc.problems)
        raise
    _finish(job, captured=captured, problems=problems + store_problems)
    return job


def _limit_problem(count: int) -> CaptureRejected:
    return CaptureRejected(
        [
            CaptureProblem(
                None,
                "epcisBody.eventList",
                f"more than {CAPTURE_LIMIT} events: over the capture limit; split the document",
                type="epcisException:CaptureLimitExceededException",
            )
        ],
        status=413,
        type="epcisException:CaptureLimitExceededException",
    )


def capture_stream(*, stream: BinaryIO, user: User | None, behaviour: str = ROLLBACK) -> CaptureJob:
    """Capture a large EPCISDocument from a seekable binary stream with flat memory.

    Events are validated as they are read and written in chunks, all inside one transaction:
    with `rollback`, any invalid event (reported once the whole document is read) undoes
    everything; with `proceed`, the valid events stay and the invalid ones are listed.
    """
    if behaviour not in (ROLLBACK, PROCEED):
        raise CaptureRejected(
            [
                CaptureProblem(
                    None,
                    "GS1-Capture-Error-Behaviour",
                    f"unknown capture error behaviour {behaviour!r}: expected rollback or proceed",
                )
            ]
        )
    try:
        events = epcis.iter_events(stream)
    except epcis.EpcisValidationError as exc:
        raise CaptureRejected(_issues_to_problems(exc)) from exc
    context = events.document.context
    job = CaptureJob.objects.create(user=user, error_behaviour=behaviour)
    resolver = EpcResolver()
    captured = 0
    seen = 0
    invalid = 0  # events refused by validation (proceed), which the stream does not yield
    problems: list[CaptureProblem] = []
    try:
        with transaction.atomic():
            chunk: list[epcis.Event] = []

            def flush() -> None:
                nonlocal captured
                prepared = [_prepare(ev, context, resolver) for ev in chunk]
                stored, store_problems = _store(prepared, job, resolver, behaviour=behaviour)
                captured += stored
                problems.extend(store_problems)
                chunk.clear()

            try:
                for event in events:
                    seen += 1
                    if seen > CAPTURE_LIMIT:
                        raise _limit_problem(seen)
                    chunk.append(event)
                    if len(chunk) >= STREAM_CHUNK:
                        flush()
            except epcis.EpcisValidationError as exc:
                parse_problems = _issues_to_problems(exc)
                if behaviour != PROCEED or any(p.index is None for p in parse_problems):
                    raise CaptureRejected(parse_problems) from exc
                problems.extend(parse_problems)
                invalid = len({p.index for p in parse_problems})
            if chunk:
                flush()
            _seal_job(job, user)
    except CaptureRejected as exc:
        job.event_count = seen
        _finish(job, captured=0, problems=problems + exc.problems)
        raise
    job.event_count = seen + invalid
    _finish(job, captured=captured, problems=problems)
    return job


def capture_event(*, data: Mapping[str, Any], user: User | None) -> Event:
    """Store one event (POST /epcis/events). Raises CaptureRejected on any problem."""
    try:
        event = epcis.parse_event(data, index=0)
    except epcis.EpcisValidationError as exc:
        raise CaptureRejected(_issues_to_problems(exc)) from exc
    context = data.get("@context")
    resolver = EpcResolver()
    with transaction.atomic():
        # The job is written finished, in the same transaction: a rejected single event is
        # answered synchronously (400) and leaves nothing behind, job included.
        now = timezone.now()
        job = CaptureJob.objects.create(
            user=user, event_count=1, captured_count=1, running=False, success=True, finished_at=now
        )
        prep = _prepare(event, context, resolver)
        _store([prep], job, resolver, behaviour=ROLLBACK)
        _seal_job(job, user)
        stored = Event.objects.filter(event_id=prep.event_id).first()
    assert stored is not None
    return stored


def _finish(job: CaptureJob, *, captured: int, problems: list[CaptureProblem]) -> None:
    job.running = False
    job.success = not problems
    job.captured_count = captured
    job.errors = [p.as_dict() for p in problems]
    job.finished_at = timezone.now()
    job.save(
        update_fields=[
            "running",
            "success",
            "captured_count",
            "errors",
            "finished_at",
            "event_count",
        ]
    )


# Rebuild --------------------------------------------------------------------------------------

_REBUILD_CHUNK = 5000


def _facts_from_rows(events: list[Event]) -> list[Fact]:
    ids = [e.pk for e in events]
    epcs: dict[int, dict[str, list[str]]] = {i: {} for i in ids}
    for event_id, epc, role in (
        EventEpc.objects.filter(event_id__in=ids)
        .order_by("id")
        .values_list("event_id", "epc", "role")
    ):
        epcs[event_id].setdefault(role, []).append(epc)
    classes: dict[int, dict[str, list[str]]] = {i: {} for i in ids}
    for event_id, cls, role in (
        EventQuantity.objects.filter(event_id__in=ids)
        .order_by("id")
        .values_list("event_id", "epc_class", "role")
    ):
        classes[event_id].setdefault(role, []).append(cls)
    sds: dict[int, dict[str, list[tuple[str, str]]]] = {i: {} for i in ids}
    for event_id, kind, typ, value in (
        EventSourceDest.objects.filter(event_id__in=ids)
        .order_by("id")
        .values_list("event_id", "kind", "type", "value")
    ):
        sds[event_id].setdefault(kind, []).append((typ, value))
    facts = []
    for e in events:
        by_role = epcs[e.pk]
        by_class_role = classes[e.pk]
        facts.append(
            Fact(
                pk=e.pk,
                type=e.event_type,
                action=e.action,
                time=e.event_time,
                biz_step=e.biz_step,
                disposition=e.disposition,
                read_point=e.read_point,
                biz_location=e.biz_location,
                epcs=by_role.get("epc", []),
                parent=by_role["parent"][0] if by_role.get("parent") else None,
                children=by_role.get("child", []),
                inputs=by_role.get("input", []),
                outputs=by_role.get("output", []),
                epc_classes=by_class_role.get("quantity", []),
                child_classes=by_class_role.get("child", []),
                input_classes=by_class_role.get("input", []),
                output_classes=by_class_role.get("output", []),
                sources=sds[e.pk].get("source", []),
                destinations=sds[e.pk].get("destination", []),
                ilmd=e.document.get("ilmd") if isinstance(e.document, dict) else None,
            )
        )
    return facts


def _event_chunks() -> Iterator[list[Event]]:
    qs = Event.objects.filter(retraction__isnull=True).order_by("event_time", "id")
    last: tuple[datetime, int] | None = None
    while True:
        page = qs
        if last is not None:
            page = qs.filter(event_time__gte=last[0]).exclude(event_time=last[0], id__lte=last[1])
        chunk = list(
            page.only(
                "id",
                "event_type",
                "action",
                "event_time",
                "biz_step",
                "disposition",
                "read_point",
                "biz_location",
                "document",
            )[:_REBUILD_CHUNK]
        )
        if not chunk:
            return
        yield chunk
        last = (chunk[-1].event_time, chunk[-1].pk)


def rebuild(*, resolver: EpcResolver | None = None) -> int:
    """Recompute UnitState, GenealogyEdge and UnitCustody from the ledger; returns the events
    replayed."""
    resolver = resolver or EpcResolver()
    count = 0
    with transaction.atomic():
        GenealogyEdge.objects.all().delete()
        UnitState.objects.all().delete()
        UnitCustody.objects.all().delete()
        for chunk in _event_chunks():
            project(_facts_from_rows(chunk), resolver)
            count += len(chunk)
    return count
