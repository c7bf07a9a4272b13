"""What the periodic rule evaluators (``alerts/rules_<x>.py``) share: a finding, and firing a
batch of findings once per occurrence.

``rules.fire`` keeps one *live* alert per ``(kind, dedupe_key)``: after a person resolves or
dismisses it, the next ``fire`` with that key raises a new one. That is right for events (a
second QC failure of a lot is news), but a periodic evaluator sees a lasting condition again
every sweep: a lot that expires in 60 days still does an hour later, after the warehouse has
resolved the alert with "scrap next week". So a periodic evaluator names each *occurrence* in
its key (the lot, the place, the level, the due date ...) and ``fire_new`` raises a key only
once, ever: a key that any alert of the kind already carries, whatever its status, is skipped
(one query for the whole batch). A worse level or a new due date is a new key, hence a new
alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from . import rules
from .models import Alert

_KEY_LENGTH = 200  # Alert.dedupe_key


@dataclass
class Finding:
    """One alert a rule wants raised (the arguments of ``rules.fire``)."""

    key: str
    title: str
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    object_type: str = ""
    object_id: str = ""
    severity: str | None = None
    recipient_role: str | None = None


def key(*parts: object) -> str:
    """A dedupe key from its parts; a key too long for the column keeps a hash of the rest."""
    text = ":".join(str(p) for p in parts)
    if len(text) <= _KEY_LENGTH:
        return text
    import hashlib

    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return f"{text[: _KEY_LENGTH - 25]}#{digest}"


def seen_keys(kind: str, keys: Iterable[str]) -> set[str]:
    """The keys among ``keys`` that an alert of ``kind`` already carries (any status)."""
    wanted = list(dict.fromkeys(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        found.update(
            Alert.objects.filter(kind=kind, dedupe_key__in=wanted[start : start + 500]).values_list(
                "dedupe_key", flat=True
            )
        )
    return found


def fire_new(kind: str, findings: Sequence[Finding]) -> list[Alert]:
    """Fire each finding whose key was never alerted before, in one transaction."""
    seen = seen_keys(kind, (f.key for f in findings))
    raised: list[Alert] = []
    with transaction.atomic():
        for finding in findings:
            if finding.key in seen:
                continue
            seen.add(finding.key)  # the same occurrence twice in one batch: once
            alert = rules.fire(
                kind,
                dedupe_key=finding.key,
                title=finding.title[:200],
                message=finding.message,
                evidence=finding.evidence,
                object_type=finding.object_type,
                object_id=finding.object_id[:64],
                severity=finding.severity,
                recipient_role=finding.recipient_role,
            )
            if alert is not None:
                raised.append(alert)
    return raised


def summary(kind: str, raised: Sequence[Alert], considered: int) -> str:
    """What a periodic job reports (``PeriodicRun.last_result``)."""
    return f"{kind}: {considered} found, {len(raised)} new alerts"


def listed(items: Sequence[str], limit: int = 10) -> str:
    """``a, b, c and 7 more``: what a message shows of a long list."""
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown
