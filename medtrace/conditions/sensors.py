"""Readings as EPCIS 2.0 ``sensorElementList`` data (EPCIS 2.0 §7.3.7, CBV 2.0 sensor terms).

What the events carry, as GS1's own sensor examples write it (conformance/epcis/examples,
WithSensorData):

- measurement types are GS1 Web Vocabulary terms written bare in JSON-LD: ``Temperature`` and
  ``RelativeHumidity`` (the XML binding writes them ``gs1:Temperature``);
- units are UN/CEFACT Rec. 20 codes: ``CEL`` (degree Celsius) and ``P1`` (percent) for relative
  humidity. GS1's examples show ``A93`` only with ``AbsoluteHumidity``: A93 is gram per cubic
  metre, a different quantity, so it is not used for %RH;
- each reading time is one sensor element: ``sensorMetadata`` {time, deviceID}, and one
  ``sensorReport`` per measurement {type, value, uom};
- a logger series also gets a summary element first: ``sensorMetadata`` {startTime, endTime,
  deviceID, rawData} and per measurement {type, minValue, maxValue, meanValue, uom}; ``rawData``
  names the imported file by its SHA-256 as an RFC 6920 ``ni:`` URI (the file is kept as an
  attachment with that hash).
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.utils import timezone

from .models import Measurement
from .readings import CEL, PERCENT, Reading

TYPES: dict[str, tuple[str, str]] = {
    Measurement.TEMPERATURE: ("Temperature", CEL),
    Measurement.HUMIDITY: ("RelativeHumidity", PERCENT),
}
_URI = re.compile(r"(urn:[A-Za-z0-9][A-Za-z0-9\-]{0,31}:|https?://)[^\s]+\Z", re.IGNORECASE)


def iso(moment: datetime) -> str:
    """An EPCIS date-time in the configured time zone, with its offset."""
    local = timezone.localtime(moment)
    return local.isoformat(timespec="milliseconds")


def device_uri(device: str) -> str | None:
    """A station or logger as a URI (EPCIS deviceID): a URI stays as given (e.g. a GIAI
    ``urn:epc:id:giai:...``); a plain name or serial becomes ``urn:medtrace:device:<name>``."""
    text = (device or "").strip()
    if not text:
        return None
    if _URI.match(text):
        return text
    return f"urn:medtrace:device:{quote(text, safe='-_.~')}"


def raw_data_uri(sha256_hex: str) -> str:
    """RFC 6920 named-information URI of a file's SHA-256."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).decode().rstrip("=")
    return f"ni:///sha-256;{digest}"


def _number(value: Decimal) -> float | int:
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def _report(measurement: str, **values: Any) -> dict[str, Any]:
    kind, uom = TYPES[measurement]
    return {"type": kind, **values, "uom": uom}


def elements(
    readings: Sequence[Reading], *, device: str | None, raw_data: str | None = None
) -> list[dict[str, Any]]:
    """The sensorElementList of ``readings``: a summary element when they form a series (more
    than one reading time, or a logger file), then one element per reading time."""
    by_time: dict[datetime, list[Reading]] = defaultdict(list)
    for reading in readings:
        by_time[reading.time].append(reading)
    out: list[dict[str, Any]] = []
    if len(by_time) > 1 or raw_data:
        meta: dict[str, Any] = {"startTime": iso(min(by_time)), "endTime": iso(max(by_time))}
        if device:
            meta["deviceID"] = device
        if raw_data:
            meta["rawData"] = raw_data
        reports = []
        for measurement in TYPES:
            values = [r.value for r in readings if r.measurement == measurement]
            if not values:
                continue
            mean = (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01"))
            reports.append(
                _report(
                    measurement,
                    minValue=_number(min(values)),
                    maxValue=_number(max(values)),
                    meanValue=_number(mean),
                )
            )
        out.append({"sensorMetadata": meta, "sensorReport": reports})
    for moment in sorted(by_time):
        meta = {"time": iso(moment)}
        if device:
            meta["deviceID"] = device
        group = sorted(by_time[moment], key=lambda r: list(TYPES).index(r.measurement))
        out.append(
            {
                "sensorMetadata": meta,
                "sensorReport": [_report(r.measurement, value=_number(r.value)) for r in group],
            }
        )
    return out
