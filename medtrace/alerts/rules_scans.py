"""Rule ``duplicate_scan``: one serial seen at two places within ``threshold`` minutes, faster
than a unit can travel: a suspected duplicate (cloned or counterfeit) serial.

Periodic (``rule:duplicate_scan``, every 5 minutes) over the events recorded in the last two
hours (the capture path stays as fast as it is; a sweep missed by a stopped worker is caught
up). Set-based: one query finds the recently recorded ``EventEpc`` rows that have another
event of the same EPC within ± the window at a different place, an index lookup each on
``(epc, event_time)``; a second query loads the events of the few EPCs found, which are paired
in memory.

The place of an event is its ``bizLocation``, else its ``readPoint``. Two places are the same
when they lie in the same site of the master data (a dock door and a bin of one warehouse, a
production line of the plant), or, for places not in the master data, when their SGLNs differ
only in the extension. Retracted events (an errorDeclaration) do not count.

One alert per unit while it is live (QA/RA by default), with both events of each pair as
evidence; the key names the newest event of the pairs, so a pair found again is not alerted
again, and a further sighting after QA concluded the alert is.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from . import rules, schedule
from .models import Alert, AlertRuleKind
from .rules_support import Finding, fire_new, summary

KIND = AlertRuleKind.DUPLICATE_SCAN
EVERY = timedelta(minutes=5)
LOOKBACK = timedelta(hours=2)
MAX_PAIRS = 20
SGLN = "urn:epc:id:sgln:"


@dataclass(frozen=True)
class Sighting:
    pk: int  # the Event row
    event_id: str
    time: datetime
    place: str
    biz_step: str | None
    read_point: str | None
    biz_location: str | None

    def as_dict(self, names: dict[str, str]) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_time": self.time.isoformat(),
            "place": self.place,
            "place_name": names.get(self.place),
            "biz_step": self.biz_step,
            "read_point": self.read_point,
            "biz_location": self.biz_location,
        }


def _place() -> Coalesce:
    return Coalesce(F("event__biz_location"), F("event__read_point"))


def _flagged(since: datetime, until: datetime, window: timedelta) -> set[str]:
    """EPCs of events recorded in [since, until] that another event of the same EPC within
    ± ``window`` saw at a different place."""
    from medtrace.ledger.models import EventEpc

    other_place = (
        EventEpc.objects.filter(
            epc=OuterRef("epc"),
            event_time__gte=OuterRef("event_time") - window,
            event_time__lte=OuterRef("event_time") + window,
            event__retraction__isnull=True,
        )
        .exclude(event_id=OuterRef("event_id"))
        .annotate(place=_place())
        .exclude(place__isnull=True)
        .exclude(place=OuterRef("place"))
    )
    return set(
        EventEpc.objects.filter(
            event__record_time__gte=since,
            event__record_time__lte=until,
            event__retraction__isnull=True,
        )
        .annotate(place=_place())
        .exclude(place__isnull=True)
        .filter(Exists(other_place))
        .values_list("epc", flat=True)
        .distinct()
    )


def _sightings(epcs: set[str], start: datetime, end: datetime) -> dict[str, list[Sighting]]:
    from medtrace.ledger.models import EventEpc

    out: dict[str, list[Sighting]] = defaultdict(list)
    rows = (
        EventEpc.objects.filter(
            epc__in=sorted(epcs),
            event_time__gte=start,
            event_time__lte=end,
            event__retraction__isnull=True,
        )
        .annotate(place=_place())
        .exclude(place__isnull=True)
        .order_by("epc", "event_time", "event_id")
        .values_list(
            "epc",
            "event_id",
            "event__event_id",
            "event_time",
            "place",
            "event__biz_step",
            "event__read_point",
            "event__biz_location",
        )
    )
    seen: set[tuple[str, int]] = set()
    for epc, pk, event_id, time, place, step, read_point, location in rows:
        if (epc, pk) in seen:  # one EPC in two roles of one event
            continue
        seen.add((epc, pk))
        out[epc].append(Sighting(pk, event_id, time, place, step, read_point, location))
    return out


class Sites:
    """Which site a place lies in: the root of its location in the master data, else its GLN
    (the SGLN without the extension)."""

    def __init__(self, places: set[str]) -> None:
        from medtrace.masterdata.models import Location

        self.names: dict[str, str] = {}
        self._root: dict[str, int] = {}
        known = {
            sgln: (pk, parent, name)
            for pk, sgln, parent, name in Location.objects.filter(sgln__in=places).values_list(
                "pk", "sgln", "parent_id", "name"
            )
        }
        parents: dict[int, int | None] = {pk: parent for pk, parent, _n in known.values()}
        # Climb to the roots, a level per query (sites are a few levels deep).
        wanted = {p for p in parents.values() if p is not None and p not in parents}
        while wanted:
            found = dict(Location.objects.filter(pk__in=wanted).values_list("pk", "parent_id"))
            parents.update(found)
            parents.update({pk: None for pk in wanted - set(found)})
            wanted = {p for p in found.values() if p is not None and p not in parents}
        for sgln, (pk, _parent, name) in known.items():
            self.names[sgln] = name
            root = pk
            while parents.get(root) is not None:
                root = parents[root]  # type: ignore[assignment]
            self._root[sgln] = root

    def of(self, place: str) -> str:
        if place in self._root:
            return f"location:{self._root[place]}"
        if place.startswith(SGLN):
            body = place[len(SGLN) :]
            return "gln:" + ".".join(body.split(".")[:2])
        return place


def _pairs(
    sightings: list[Sighting], sites: Sites, window: timedelta
) -> list[tuple[Sighting, Sighting]]:
    pairs = []
    for i, a in enumerate(sightings):
        for b in sightings[i + 1 :]:
            if b.time - a.time > window:
                break
            if sites.of(a.place) != sites.of(b.place):
                pairs.append((a, b))
    return pairs


def _unit_key(epc: str) -> str:
    return "unit:" + hashlib.sha256(epc.encode()).hexdigest()[:24] + ":"


def duplicate_scan_evaluate(*, now: datetime | None = None) -> str:
    """Look for units seen at two places within the window among the recent captures."""
    from medtrace.ledger.models import UnitState

    config = rules.rule(KIND)
    if not config.enabled:
        return f"{KIND}: disabled"
    now = now or timezone.now()
    window = timedelta(minutes=float(config.threshold if config.threshold is not None else 10))
    flagged = _flagged(now - LOOKBACK - EVERY, now, window)
    if not flagged:
        return summary(KIND, [], 0)
    # Their sightings around the recent events (recorded lately, but possibly back-dated).
    times = _recent_times(flagged, now - LOOKBACK - EVERY, now)
    found = _sightings(flagged, times[0] - window, times[1] + window)
    sites = Sites({s.place for rows in found.values() for s in rows})
    live = set(
        Alert.objects.filter(kind=KIND, status__in=rules.LIVE).values_list("dedupe_key", flat=True)
    )
    serials = dict(UnitState.objects.filter(epc__in=flagged).values_list("epc", "serial"))
    findings = []
    for epc in sorted(found):
        pairs = _pairs(found[epc], sites, window)
        if not pairs:
            continue
        prefix = _unit_key(epc)
        if any(k.startswith(prefix) for k in live):
            continue  # QA is on it: the live alert covers this unit
        newest = max(max(a.pk, b.pk) for a, b in pairs)
        a, b = pairs[-1]
        minutes = round((b.time - a.time).total_seconds() / 60, 1)
        label = serials.get(epc) or epc
        values = {
            "unit": label,
            "a": sites.names.get(a.place, a.place),
            "b": sites.names.get(b.place, b.place),
            "minutes": minutes,
            "window": _minutes(window),
            "count": len(pairs),
        }
        findings.append(
            Finding(
                key=f"{prefix}{newest}",
                title=_("%(unit)s seen at %(a)s and at %(b)s %(minutes)s minutes apart") % values,
                message=_(
                    "The same serial %(unit)s was captured at two places within %(window)s "
                    "minutes (%(count)s times), faster than a unit can travel: it may be a "
                    "duplicated or counterfeit serial. Check both units physically and hold "
                    "the suspect one."
                )
                % values,
                evidence={
                    "epc": epc,
                    "serial": serials.get(epc),
                    "window_minutes": _minutes(window),
                    "pairs": [
                        {
                            "minutes": round((y.time - x.time).total_seconds() / 60, 1),
                            "first": x.as_dict(sites.names),
                            "second": y.as_dict(sites.names),
                        }
                        for x, y in pairs[-MAX_PAIRS:]
                    ],
                },
                object_type="unit",
                object_id=epc[:64],
            )
        )
    return summary(KIND, fire_new(KIND, findings), len(findings))


def _minutes(window: timedelta) -> float | int:
    value = window.total_seconds() / 60
    return int(value) if value == int(value) else round(value, 1)


def _recent_times(epcs: set[str], since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The earliest and latest event time of the recently recorded events of ``epcs``."""
    from django.db.models import Max, Min

    from medtrace.ledger.models import EventEpc

    span = EventEpc.objects.filter(
        epc__in=sorted(epcs), event__record_time__gte=since, event__record_time__lte=until
    ).aggregate(first=Min("event_time"), last=Max("event_time"))
    return span["first"], span["last"]


@schedule.periodic(f"rule:{KIND}", every=EVERY)
def _job() -> str:
    return duplicate_scan_evaluate()
