"""Conditions writes (issue 5, item 7; DESIGN §4): readings into the ledger, excursions into
nonconformances.

``readings_record`` (a scan station) and ``readings_import`` (a logger file) both end in
``_write``: in one transaction, per group of targets,

1. a ``ConditionRecord`` (number ``COND-YYYY-NNNNNN``), audited;
2. one EPCIS 2.0 ObjectEvent OBSERVE naming what was scanned (units and cases in ``epcList``,
   lots in ``quantityList``), with the readings in ``sensorElementList`` (see ``sensors``);
   bizStep is the step in progress in the phase: ``assembling`` (production), ``storing``
   (storage), ``transporting`` (transport); readPoint the location's SGLN (none in transit);
   eventTime the last reading's time. No disposition and no bizLocation, as in GS1's own
   sensor examples: a reading observes the goods, it does not move them or change their state
   (the projections would otherwise take the station's place as the goods' holder, even for a
   logger file read long after the goods left);
3. the limits broken (``evaluation.evaluate``) as ``Excursion`` rows, and one nonconformance per
   set of affected units and lots (``quality.services.nonconformance_open``, raised by the
   system, with a QC hold on the goods), whose description names the reading, the limit, the
   time and the location.

A refused input stores nothing: no record, no event, no audit entry, no nonconformance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from medtrace.accounts.models import User
from medtrace.audit import services as audit
from medtrace.errors import Conflict, MedtraceError, ValidationFailed
from medtrace.ledger.models import Event
from medtrace.lifecycle import events as ev
from medtrace.lifecycle.models import Attachment
from medtrace.lifecycle.services import attachment_store, next_number
from medtrace.masterdata.models import Location

from . import evaluation, sensors
from .evaluation import Breach, Targets
from .models import (
    Bound,
    ConditionRecord,
    Excursion,
    ExcursionTarget,
    Measurement,
    Phase,
    RecordSource,
    number_text,
    range_text,
)
from .profiles import (  # noqa: F401  (re-exported: the app's writes live behind services)
    PERM_PROFILE_ADD,
    PERM_PROFILE_CHANGE,
    profile_create,
    profile_update,
    require,
)
from .readings import MAX_ERRORS, ParsedFile, Problem, Reading, parse_file, parse_readings

PERM_RECORD = "conditions.add_conditionrecord"
BIZ_STEPS = {
    Phase.PRODUCTION: "assembling",
    Phase.STORAGE: "storing",
    Phase.TRANSPORT: "transporting",
}
DEVICE_MAX = 200


@dataclass
class Group:
    """Readings for one set of targets at one location: one record, one event."""

    texts: list[str]  # the targets as given
    location: Location | None
    readings: list[Reading] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    targets: Targets | None = None
    breaches: list[Breach] = field(default_factory=list)


@dataclass
class Recorded:
    record: ConditionRecord
    event: Event
    excursions: list[Excursion]
    nonconformances: list[str]


@dataclass
class ImportResult:
    dry_run: bool
    file_name: str
    sha256: str
    rows: int
    blank_rows: list[int]
    groups: list[Group]
    problems: list[Problem]
    recorded: list[Recorded] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reading_count(self) -> int:
        return sum(len(g.readings) for g in self.groups)


# Checks ----------------------------------------------------------------------------------------


def _raise(problems: Sequence[Problem], *, summary: str | None = None) -> None:
    if not problems:
        return
    first = problems[0]
    details = [p.as_dict() for p in problems[:MAX_ERRORS]]
    message = first.text()
    if summary:
        message = f"{summary} {message}"
    if len(problems) > 1:
        message += _(" (%(n)d problems in all)") % {"n": len(problems)}
    # A problem in a row of a file belongs to the file field of the form.
    raise ValidationFailed(
        message, field=first.field if first.row is None else "file", details=details
    )


def _phase(phase: str, problems: list[Problem]) -> str:
    if phase not in Phase.values:
        problems.append(
            Problem(
                "phase",
                _("%(value)r is not a phase; expected one of %(values)s")
                % {"value": phase, "values": ", ".join(Phase.values)},
            )
        )
    return phase


def _device(device: str, problems: list[Problem], *, required: bool) -> str:
    device = (device or "").strip()
    if required and not device:
        problems.append(Problem("device", _("name the scan station or logger (e.g. its serial)")))
    if len(device) > DEVICE_MAX:
        problems.append(Problem("device", _("at most %(n)d characters") % {"n": DEVICE_MAX}))
    return device


def _location(text: str | int | None, phase: str, problems: list[Problem]) -> Location | None:
    if text in (None, "") and phase == Phase.TRANSPORT:
        return None  # a logger in a truck: no place to name
    try:
        return evaluation.location_get(text)
    except MedtraceError as exc:
        problems.append(Problem("location", exc.message.removeprefix("location: ")))
        return None


def _resolve(groups: Sequence[Group], *, user: User | None, row_field: bool) -> list[Problem]:
    """Resolve every group's targets (each distinct text once) and expand containers."""
    texts = [t for g in groups for t in g.texts]
    resolved, problems = evaluation.resolve_texts(texts, user=user)
    if problems and row_field:
        # Per row, per field: every row that names a target that cannot be read.
        bad = {p.value: p.message for p in problems}
        problems = [
            Problem("target", bad[text], row, text)
            for g in groups
            for text in g.texts
            if text in bad
            for row in g.rows
        ]
        problems.sort(key=lambda p: p.row or 0)
    if problems:
        return problems
    for group in groups:
        times = [r.time for r in group.readings]
        group.targets = evaluation.expand(
            (resolved[t] for t in group.texts),
            start=min(times) if times else None,
            end=max(times) if times else None,
        )
        refused = evaluation.refusals(group.targets)
        for problem in refused:
            problems.extend(
                [Problem("target", problem.message, row, problem.value) for row in group.rows]
                if row_field
                else [problem]
            )
    return problems


# Writing ---------------------------------------------------------------------------------------


def _where(location: Location | None) -> str:
    if location is None:
        return _("in transit")
    return f"{location.name} ({location.sgln})"


def _local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %z")


def breach_text(breach: Breach, location: Location | None) -> str:
    profile = breach.profile
    label = (
        _("Temperature")
        if breach.measurement == Measurement.TEMPERATURE
        else _("Relative humidity")
    )
    low = profile.limit(breach.measurement, Bound.MIN)
    high = profile.limit(breach.measurement, Bound.MAX)
    side = _("above the maximum") if breach.bound == Bound.MAX else _("below the minimum")
    text = _(
        "%(label)s %(value)s %(unit)s at %(time)s at %(where)s is %(side)s %(limit)s %(unit)s "
        "of the %(phase)s limits %(range)s of %(product)s"
    ) % {
        "label": label,
        "value": number_text(breach.value),
        "unit": breach.unit,
        "time": _local(breach.at),
        "where": _where(location),
        "side": side,
        "limit": number_text(breach.limit),
        "phase": profile.get_phase_display().lower(),
        "range": range_text(low, high, breach.unit),
        "product": f"{profile.product.name} {profile.product.model}".strip(),
    }
    if breach.readings > 1:
        text += _(" (%(n)d readings outside the limit from %(first)s to %(last)s)") % {
            "n": breach.readings,
            "first": _local(breach.first_at),
            "last": _local(breach.last_at),
        }
    return text + "."


def _open_nonconformance(
    *, group: list[Breach], record: ConditionRecord, event: Event, location: Location | None
) -> str:
    """The one call into quality: open an NC on the affected goods and hold them."""
    from medtrace.quality.services import nonconformance_open

    first = group[0]
    kinds = sorted({str(Measurement(b.measurement).label) for b in group})
    products = sorted({f"{b.profile.product.name} {b.profile.product.model}" for b in group})
    title = _("%(what)s excursion: %(products)s at %(where)s") % {
        "what": " / ".join(kinds),
        "products": ", ".join(products),
        "where": location.name if location is not None else _("in transit"),
    }
    lines = [breach_text(b, location) for b in group]
    recorder = record.recorded_by.get_username() if record.recorded_by else _("the system")
    lines.append(
        _("Recorded by %(who)s in %(record)s (device %(device)s; EPCIS event %(event)s).")
        % {
            "who": recorder,
            "record": record.number,
            "device": record.device or "-",
            "event": event.event_id,
        }
    )
    nc = nonconformance_open(
        targets=first.targets,
        title=title[:200],
        description="\n".join(lines),
        source=record.number,
        category="product",
        user=None,  # raised by the system on the recorded readings; the record names who
        hold=True,
    )
    return nc.number


def _event(group: Group, *, phase: str, device: str, raw_data: str | None) -> dict[str, Any]:
    assert group.targets is not None
    location = group.location
    sgln = location.sgln if location is not None else None
    return ev.object_event(
        action="OBSERVE",
        epcs=group.targets.instances,
        quantities=[ev.quantity_class(c) for c in group.targets.classes],
        biz_step=BIZ_STEPS[Phase(phase)],
        at=max(r.time for r in group.readings),
        read_point=sgln,
        sensors=sensors.elements(
            group.readings, device=sensors.device_uri(device), raw_data=raw_data
        ),
    )


def _write(
    group: Group,
    *,
    source: str,
    phase: str,
    device: str,
    user: User | None,
    note: str,
    attachment: Attachment | None,
) -> Recorded:
    assert group.targets is not None
    raw = sensors.raw_data_uri(attachment.sha256) if attachment is not None else None
    number = next_number("COND")
    events = ev.emit([_event(group, phase=phase, device=device, raw_data=raw)], user=user)
    if not events:
        raise Conflict(
            _("These readings were already recorded: the ledger holds the same event"),
            field="readings",
        )
    event = events[0]
    times = [r.time for r in group.readings]
    record = ConditionRecord.objects.create(
        number=number,
        source=source,
        phase=phase,
        device=device,
        location=group.location,
        targets=group.targets.listed,
        unit_count=len(group.targets.covered),
        reading_count=len(group.readings),
        first_reading_at=min(times),
        last_reading_at=max(times),
        event=event,
        attachment=attachment,
        note=note,
        recorded_at=timezone.now(),
        recorded_by=user,
    )
    audit.record_create(record, user=user)
    excursions: list[Excursion] = []
    numbers: list[str] = []
    where = _where(group.location)
    for breaches in evaluation.group_by_targets(group.breaches):
        nc_number = _open_nonconformance(
            group=breaches, record=record, event=event, location=group.location
        )
        numbers.append(nc_number)
        for breach in breaches:
            excursion = Excursion.objects.create(
                record=record,
                event=event,
                profile=breach.profile,
                product=breach.profile.product,
                measurement=breach.measurement,
                bound=breach.bound,
                limit=breach.limit,
                value=breach.value,
                at=breach.at,
                first_at=breach.first_at,
                last_at=breach.last_at,
                readings=breach.readings,
                location_label=where[:300],
                nonconformance=nc_number,
            )
            ExcursionTarget.objects.bulk_create(
                [ExcursionTarget(excursion=excursion, epc=e) for e in breach.targets]
                + [
                    ExcursionTarget(excursion=excursion, epc=c, container=True)
                    for c in breach.containers
                ],
                batch_size=2000,
            )
            audit.record_create(excursion, user=None, reason=breach_text(breach, group.location))
            excursions.append(excursion)
    return Recorded(record, event, excursions, numbers)


# Entry points ----------------------------------------------------------------------------------


def readings_record(
    *,
    targets: Sequence[str],
    readings: Sequence[dict[str, Any]],
    phase: str,
    device: str,
    location: str | int | None,
    user: User | None,
    note: str = "",
) -> Recorded:
    """Readings taken at a scan station for the scanned units, cases or lots (any UDI form).

    ``readings``: ``[{"time", "type": "temperature"|"humidity", "value", "uom"}]``; one EPCIS
    event with one sensor element per reading time. Raises ValidationFailed listing every
    problem (``details``), nothing stored.
    """
    require(user, PERM_RECORD, _("You may not record conditions"))
    problems: list[Problem] = []
    phase = _phase(phase, problems)
    device = _device(device, problems, required=True)
    place = _location(location, phase, problems)
    parsed, reading_problems = parse_readings(readings)
    problems.extend(reading_problems)
    texts = [t.strip() for t in targets if t and t.strip()]
    if not texts:
        problems.append(Problem("targets", _("scan at least one unit, case or lot")))
    _raise(problems)
    group = Group(texts=texts, location=place, readings=parsed)
    _raise(_resolve([group], user=user, row_field=False))
    assert group.targets is not None
    group.breaches = evaluation.evaluate(group.readings, group.targets, phase)
    with transaction.atomic():
        return _write(
            group,
            source=RecordSource.STATION,
            phase=phase,
            device=device,
            user=user,
            note=(note or "").strip(),
            attachment=None,
        )


def _groups(
    parsed: ParsedFile,
    *,
    targets: Sequence[str],
    location: Location | None,
    phase: str,
    problems: list[Problem],
) -> list[Group]:
    """Rows with the same targets and location form one group (one event)."""
    default = [t.strip() for t in targets if t and t.strip()]
    groups: dict[tuple[tuple[str, ...], int | None], Group] = {}
    places: dict[str, Location | None] = {}
    for row in parsed.rows:
        texts = row.targets or default
        if not texts:
            problems.append(
                Problem(
                    "target",
                    _("no target: give targets on the form or in a 'target' column"),
                    row.number,
                )
            )
            continue
        place = location
        if row.location:
            if row.location not in places:
                try:
                    places[row.location] = evaluation.location_get(row.location)
                except MedtraceError as exc:
                    places[row.location] = None
                    problems.append(
                        Problem(
                            "location",
                            exc.message.removeprefix("location: "),
                            row.number,
                            row.location,
                        )
                    )
            place = places[row.location]
            if place is None:
                continue
        elif place is None and phase != Phase.TRANSPORT:
            problems.append(
                Problem(
                    "location",
                    _("no location: give it on the form or in a 'location' column"),
                    row.number,
                )
            )
            continue
        key = (tuple(dict.fromkeys(texts)), place.pk if place is not None else None)
        group = groups.setdefault(key, Group(texts=list(key[0]), location=place))
        group.readings.extend(row.readings)
        group.rows.append(row.number)
    return list(groups.values())


def readings_import(
    *,
    name: str,
    content: bytes,
    phase: str,
    user: User | None,
    device: str = "",
    location: str | int | None = None,
    targets: Sequence[str] = (),
    dry_run: bool = False,
    note: str = "",
) -> ImportResult:
    """Import a logger file (CSV or XLSX; columns time, temperature, humidity, and optionally
    target and location per row). All or nothing: any problem refuses the whole file, listing
    every problem by row and field; nothing is dropped silently (blank lines are reported).

    ``dry_run``: check and evaluate only, and return the report (``problems`` and the
    excursions the readings would raise); nothing is stored.
    """
    require(user, PERM_RECORD, _("You may not record conditions"))
    problems: list[Problem] = []
    phase = _phase(phase, problems)
    device = _device(device, problems, required=False)
    place: Location | None = None
    if location not in (None, ""):
        place = _location(location, phase, problems)
    sha256 = hashlib.sha256(content or b"").hexdigest()
    if not content:
        problems.append(Problem("file", _("the file is empty")))
    parsed = parse_file(name or "", content) if content else ParsedFile([], [], [], [])
    problems.extend(parsed.problems)
    groups: list[Group] = []
    if not problems:
        groups = _groups(parsed, targets=targets, location=place, phase=phase, problems=problems)
    if not problems:
        problems.extend(_resolve(groups, user=user, row_field=True))
    if not problems:
        for group in groups:
            assert group.targets is not None
            group.breaches = evaluation.evaluate(group.readings, group.targets, phase)
    if not problems:
        earlier = (
            ConditionRecord.objects.filter(attachment__sha256=sha256)
            .values_list("number", flat=True)
            .first()
        )
        if earlier:
            problems.append(
                Problem(
                    "file",
                    _("this file (SHA-256 %(sha)s…) was already imported as %(number)s")
                    % {"sha": sha256[:12], "number": earlier},
                )
            )
    result = ImportResult(
        dry_run=dry_run,
        file_name=name,
        sha256=sha256,
        rows=len(parsed.rows),
        blank_rows=parsed.blank_rows,
        groups=groups,
        problems=problems,
    )
    if dry_run:
        return result
    _raise(problems, summary=_("Nothing was imported."))
    with transaction.atomic():
        attachment = attachment_store(
            name=name, content=content, content_type=_content_type(name), user=user, field="file"
        )
        for group in groups:
            result.recorded.append(
                _write(
                    group,
                    source=RecordSource.IMPORT,
                    phase=phase,
                    device=device,
                    user=user,
                    note=(note or "").strip(),
                    attachment=attachment,
                )
            )
    return result


def _content_type(name: str) -> str:
    if name.lower().endswith(".xlsx"):
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return "text/csv"
