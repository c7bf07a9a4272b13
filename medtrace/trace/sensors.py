"""A readable summary of an event's EPCIS 2.0 ``sensorElementList`` for the unit timeline.

One line per measurement type and unit: a single reading ("Temperature 9.2 °C"), or a series
("Temperature 2.1–9.2 °C, mean 4.9 °C, 288 readings"). Individual readings (``value``) are
preferred; when an event carries only aggregates (``minValue``/``maxValue``/``meanValue``, as a
logger summary or a partner's event may), those are shown. Sensor alerts (``exception``) are
named. Any measurement type is shown, not only ours.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext as _

# UN/CEFACT Rec. 20 codes as people write them.
UNITS = {
    "CEL": "°C",
    "FAH": "°F",
    "KEL": "K",
    "P1": "%",
    "A93": "g/m³",
    "KGM": "kg",
    "MTR": "m",
    "KMH": "km/h",
    "LUX": "lx",
}
_WORDS = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _label(kind: str) -> str:
    term = kind.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    known = {"Temperature": _("Temperature"), "RelativeHumidity": _("Relative humidity")}
    return known.get(term) or _WORDS.sub(" ", term).capitalize()


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _numbers(values: list[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def summarize(raw: Any) -> list[dict[str, Any]]:
    """The sensorElementList (JSON text or data) as one entry per (type, uom)."""
    elements = json.loads(raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(elements, list):
        return []
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for element in elements:
        if not isinstance(element, dict):
            continue
        raw_meta = element.get("sensorMetadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        reports = element.get("sensorReport")
        for report in reports if isinstance(reports, list) else []:
            if not isinstance(report, dict) or not isinstance(report.get("type"), str):
                continue
            uom: str = report["uom"] if isinstance(report.get("uom"), str) else ""
            entry = groups.setdefault(
                (report["type"], uom),
                {"values": [], "mins": [], "maxs": [], "means": [], "times": [], "alerts": []},
            )
            entry["values"].extend(_numbers([report.get("value")]))
            entry["mins"].extend(_numbers([report.get("minValue")]))
            entry["maxs"].extend(_numbers([report.get("maxValue")]))
            entry["means"].extend(_numbers([report.get("meanValue")]))
            for key in ("time", "startTime", "endTime"):
                moment = report.get("time") if key == "time" else None
                moment = moment or meta.get(key)
                if isinstance(moment, str):
                    entry["times"].append(moment)
            if isinstance(report.get("exception"), str):
                entry["alerts"].append(report["exception"])
    out = []
    for (kind, uom), entry in groups.items():
        unit = UNITS.get(uom, uom)
        gap = " " if unit else ""
        values = entry["values"]
        low = min(values) if values else (min(entry["mins"]) if entry["mins"] else None)
        high = max(values) if values else (max(entry["maxs"]) if entry["maxs"] else None)
        mean = (
            sum(values) / len(values)
            if values
            else (sum(entry["means"]) / len(entry["means"]) if entry["means"] else None)
        )
        count = len(values)
        label = _label(kind)
        if count == 1:
            text = f"{label} {_num(values[0])}{gap}{unit}"
        elif low is not None and high is not None:
            text = f"{label} {_num(low)}–{_num(high)}{gap}{unit}"
            if mean is not None:
                text += _(", mean %(mean)s") % {"mean": f"{_num(mean)}{gap}{unit}"}
            if count:
                text += _(", %(n)d readings") % {"n": count}
        else:
            text = label
        alerts = sorted(set(entry["alerts"]))
        if alerts:
            text += " (" + ", ".join(alerts) + ")"
        times = sorted(entry["times"])
        out.append({
            "type": kind, "uom": uom or None, "unit": unit or None, "count": count,
            "value": values[0] if count == 1 else None, "min": low, "max": high, "mean": mean,
            "start": times[0] if times else None, "end": times[-1] if times else None,
            "alerts": alerts, "text": text,
        })  # fmt: skip
    return out
