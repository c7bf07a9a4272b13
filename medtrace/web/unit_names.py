"""Names for the unit page: its places and parties, and who recorded each of its events.

The reads are ``unit_batch`` branches (they go to the database with the page's other small
reads). What a partner login reads is narrowed further than the trace already does: the names
of its own party, its own places and the maker's; another party's name or place reads "another
party" (DESIGN §9: nothing of any other party); the people who recorded an event only when they
are its own colleagues (the maker's staff read as the maker).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.utils import translation
from django.utils.translation import pgettext

from medtrace.accounts.models import User
from medtrace.ledger.identifiers import gln_of
from medtrace.ledger.models import Event
from medtrace.masterdata.models import Location, Party, PartyRole

from .unit_batch import Branch

_SGLN = "urn:epc:id:sgln:"


@dataclass
class Name:
    text: str
    role: str = ""  # the party's role, in words
    hidden: bool = False  # another party's, not shown to this partner


def english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _role_label(role: str | None) -> str:
    try:
        return str(PartyRole(role).label) if role else ""
    except ValueError:
        return role or ""


def _another_party() -> Name:
    return Name(pgettext("unit page", "another party"), hidden=True)


def _another_place() -> Name:
    return Name(pgettext("unit page", "another party's site"), hidden=True)


def _party_name(row: dict[str, Any], prefix: str = "") -> str:
    name_en = row.get(f"{prefix}name_en")
    return str(name_en) if name_en and english() else str(row.get(f"{prefix}name") or "")


@dataclass
class Names:
    """The places (by SGLN) and parties (by GLN) of one page."""

    user: User | None
    maker_id: int | None
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    parties: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def partner_party(self) -> int | None:
        return self.user.party_id if self.user is not None else None

    def place(self, value: str | None) -> Name | None:
        if not value:
            return None
        row = self.locations.get(value)
        own = self.partner_party
        if row is None:
            return Name(value) if own is None else _another_place()
        if own is None or row["party_id"] == own:
            return Name(row["name"])
        if row["party_id"] == self.maker_id:
            return Name(_party_name(row, "party__"))
        return _another_place()

    def party(self, value: str | None) -> Name | None:
        if not value:
            return None
        location = self.locations.get(value)
        if location is not None and location["party_id"] is not None:
            row: dict[str, Any] | None = {
                "id": location["party_id"], "name": location["party__name"],
                "name_en": location["party__name_en"], "role": location["party__role"],
            }  # fmt: skip
        else:
            row = self.parties.get(gln_of(value) or "")
        own = self.partner_party
        if row is None:
            return Name(value) if own is None else _another_party()
        if own is not None and row["id"] not in (own, self.maker_id):
            return _another_party()
        return Name(_party_name(row), _role_label(row["role"]))


def branches(places: Iterable[str], parties: Iterable[str]) -> list[Branch]:
    """The reads of the names of ``places`` (SGLNs) and ``parties`` (PGLN URNs, GLNs, or a
    location's SGLN standing for its party)."""
    wanted_parties = {p for p in parties if p}
    sglns = {p for p in places if p} | {p for p in wanted_parties if p.startswith(_SGLN)}
    glns = {g for p in wanted_parties if not p.startswith(_SGLN) and (g := gln_of(p))}
    out = []
    if sglns:
        out.append(Branch("locations", Location.objects.filter(sgln__in=sglns), {
            "sgln": "sgln", "name": "name", "party_id": "party_id", "party__name": "party__name",
            "party__name_en": "party__name_en", "party__role": "party__role",
        }))  # fmt: skip
    if glns:
        out.append(Branch("parties", Party.objects.filter(gln__in=glns), {
            "id": "id", "gln": "gln", "name": "name", "name_en": "name_en", "role": "role",
        }))  # fmt: skip
    return out


def names(rows: dict[str, list[dict[str, Any]]], *, user: User | None, maker_id: Any) -> Names:
    return Names(
        user=user,
        maker_id=maker_id,
        locations={row["sgln"]: row for row in rows.get("locations", [])},
        parties={row["gln"]: row for row in rows.get("parties", [])},
    )


# Who recorded each event -------------------------------------------------------------------------


def who_branch(event_ids: list[str]) -> Branch:
    return Branch("who", Event.objects.filter(event_id__in=event_ids), {
        "event": "event_id", "job": "capture_job_id", "user": "capture_job__user_id",
        "printed": "capture_job__user__printed_name", "first": "capture_job__user__first_name",
        "last": "capture_job__user__last_name", "username": "capture_job__user__username",
        "party": "capture_job__user__party_id",
    })  # fmt: skip


def recorded_by(
    rows: list[dict[str, Any]], *, user: User | None, maker: str
) -> tuple[dict[str, str], set[str]]:
    """eventID -> who recorded it (the capture's user, as printed on signatures), and the
    capture jobs that stored the events (their audit entries are part of the unit's history)."""
    own = user.party_id if user is not None else None
    out: dict[str, str] = {}
    jobs: set[str] = set()
    for row in rows:
        if row["job"]:
            jobs.add(str(uuid.UUID(str(row["job"]))))
        if not row["user"]:
            continue
        if own is None or row["party"] == own:
            full = " ".join(p for p in (row["first"], row["last"]) if p)
            out[row["event"]] = row["printed"] or full or row["username"] or ""
        elif row["party"] is None:
            out[row["event"]] = maker  # the maker's staff: the company, not the person
    return out, jobs
