"""Fresh benchmark events from the project's generator (medtrace.ledger.generator).

Every benchmark document must hold events the bench database has never seen, or capture would
skip them as idempotent re-sends and the figure would be meaningless. `fresh_events` takes the
generator's story and renames its objects with a per-run tag: serial numbers get a letter
prefix (urn:epc:id:sgtin:6901234.010001.P00000001 -> ...010001.KQZWP00000001), so do lot
numbers (...lgtin:6920002.000005.PS00000 -> ...KQZWPS00000: bench captures must not grow the
dataset's lots, which the forward-trace benchmark starts from), SSCC serial
references move by a per-run offset, event times move back by a per-run number of days (the
lot receipts name no serial). Locations, parties and the shape of the story
are the generator's own.
"""

from __future__ import annotations

import random
import re
import string
import uuid
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from medtrace.ledger import generator

_SGTIN = re.compile(r"^(urn:epc:id:sgtin:\d+\.\d+\.)([A-Z]+\d+)$")
_LGTIN = re.compile(r"^(urn:epc:class:lgtin:\d+\.\d+\.)(\w+)$")
_SSCC = re.compile(r"^urn:epc:id:sscc:(\d+)\.(\d{10})$")


def run_tag(rng: random.Random | None = None) -> str:
    rng = rng or random.SystemRandom()
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(4))


class Renamer:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        crc = zlib.crc32(tag.encode())
        self.sscc_offset = 1_000_000_000 + (crc % 8_000) * 1_000_000
        # Events that name no serial (lot receipts) would otherwise hash like the dataset's.
        self.shift = timedelta(days=1 + crc % 2_000, milliseconds=crc % 997)

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        out = self(event)
        moment = datetime.strptime(out["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ") - self.shift
        out["eventTime"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return out

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith("urn:epc:id:sgtin:"):
                return _SGTIN.sub(lambda m: m[1] + self.tag + m[2], value)
            if value.startswith("urn:epc:class:lgtin:"):
                return _LGTIN.sub(lambda m: m[1] + self.tag + m[2], value)
            if value.startswith("urn:epc:id:sscc:"):
                m = _SSCC.match(value)
                if m:
                    return f"urn:epc:id:sscc:{m[1]}.{int(m[2]) + self.sscc_offset:010d}"
            return value
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value


def iter_fresh(tag: str, *, with_ids: bool = False, **plan: Any) -> Iterator[dict[str, Any]]:
    """The generator's events, renamed for this run; endless (a big Plan), in eventTime order."""
    rename = Renamer(tag)
    for batch in generator.generate(generator.Plan(units=plan.pop("units", 10_000_000), **plan)):
        for event in batch:
            event = rename.event(event)
            if with_ids:
                event = {"eventID": f"urn:uuid:{uuid.uuid4()}", **event}
            yield event


def fresh_events(count: int, tag: str, *, with_ids: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for event in iter_fresh(tag, with_ids=with_ids):
        out.append(event)
        if len(out) == count:
            break
    return out


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return generator.document(events)
