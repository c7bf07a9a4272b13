"""Partner scoping (DESIGN §9): THE one place that decides what a partner user may see.

A partner user (``user.party`` set: a supplier's, distributor's or hospital's staff) sees only
what their party supplied, received or holds. Internal staff (no party) and the CLI
(``user=None``) see everything; their role permissions (403) are checked elsewhere, and none of
the helpers below adds anything to their queries.

The rules, all as SQL conditions (index probes and subqueries, never a Python set of EPCs):

- **Objects in scope** (EPCs and EPC classes): those with a ``UnitCustody`` row naming one of
  the party's identifiers. That projection holds every party that ever held, owned, sent or
  received an object: the sourceList and destinationList of the events naming it, carried down
  to whatever was packed or installed inside it when it moved, and the bizLocation that became
  its holder. So a hospital sees what it holds now and what was ever shipped to it; a
  distributor also what it passed on; a supplier the lots and serials it supplied (it is the
  source of their receiving events).
- **Events in scope**: events naming an object in scope (any role: epcList, parentID,
  childEPCs, inputs, outputs, quantity lists), events with one of the party's identifiers in
  their sourceList or destinationList, and events at the party's own locations (bizLocation or
  readPoint). A returned event is redacted (``redact_event``): other parties' EPCs are removed.
- **Master data**: the party's own Party and Locations, and the products of objects in scope.
  Nothing else (materials, BOMs, other parties).

Out of scope means "does not exist": callers answer 404, never 403, so a partner cannot learn
that another party's unit, event or record exists. Identifiers of the party are the spellings
the ledger may use: its GLN, PGLN/SGLN URNs, GS1 Digital Links, and its Locations' SGLNs and
GLNs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connection
from django.db.models import BooleanField, Model, Q, QuerySet
from django.db.models.expressions import RawSQL

from medtrace.errors import NotFound
from medtrace.lib import udi

if TYPE_CHECKING:
    from medtrace.accounts.models import User
    from medtrace.ledger.models import Event, UnitState
    from medtrace.masterdata.models import Location, Party, Product

__all__ = [
    "custody_epcs",
    "custody_sql",
    "epcs_in_scope",
    "event_q",
    "is_partner",
    "own_events_sql",
    "partner_ids",
    "party_identifiers",
    "redact_event",
    "redact_events",
    "scope_by_party",
    "scope_events",
    "scope_locations",
    "scope_parties",
    "scope_products",
    "scope_units",
    "unscoped_nothing",
    "visible_event_pks",
    "visible_or_404",
]

M = TypeVar("M", bound=Model)

# How many EPCs one membership query checks (SQLite's bound-parameter limit).
_CHUNK = 500
_CACHE = "_medtrace_scope_ids"


def is_partner(user: User | None) -> bool:
    """True for a partner login; False for internal staff and the CLI (``None``)."""
    return user is not None and getattr(user, "party_id", None) is not None


def party_identifiers(party: Party) -> set[str]:
    """Every spelling under which the ledger may name a party or one of its places."""
    from medtrace.masterdata.models import Location

    ids: set[str] = set()
    if party.gln:
        ids.update(
            {
                party.gln,
                f"https://id.gs1.org/417/{party.gln}",
                f"https://id.gs1.org/414/{party.gln}",
            }
        )
        prefix = party.gs1_company_prefix
        if prefix and party.gln.startswith(prefix):
            ids.add(f"urn:epc:id:pgln:{prefix}.{party.gln[len(prefix) : 12]}")
            ids.add(udi.sgln_urn(party.gln, None, len(prefix)))
    for sgln, gln in Location.objects.filter(party=party).values_list("sgln", "gln"):
        ids.add(sgln)
        if gln:
            ids.update({gln, f"https://id.gs1.org/414/{gln}"})
    return ids


def partner_ids(user: User | None) -> list[str] | None:
    """The party identifiers of a partner user (sorted, cached on the user object for the
    request); ``None`` for internal users and the CLI, who are not scoped."""
    if not is_partner(user):
        return None
    assert user is not None
    cached = getattr(user, _CACHE, None)
    if cached is None:
        party = user.party
        assert party is not None
        cached = sorted(party_identifiers(party))
        setattr(user, _CACHE, cached)
    return list(cached)


def _custody_epcs(ids: list[str]) -> QuerySet[Any]:
    from medtrace.ledger.models import UnitCustody

    return UnitCustody.objects.filter(party__in=ids).values("epc")


def custody_epcs(user: User | None) -> QuerySet[Any] | None:
    """The subquery of a partner's EPCs and EPC classes; ``None`` when the user is not
    scoped. EPCIS MATCH_ parameters of a partner match only these."""
    ids = partner_ids(user)
    return None if ids is None else _custody_epcs(ids)


# Ledger objects --------------------------------------------------------------------------------


def scope_units(user: User | None, qs: QuerySet[UnitState]) -> QuerySet[UnitState]:
    """The units (UnitState rows) of ``qs`` that ``user`` may see."""
    ids = partner_ids(user)
    if ids is None:
        return qs
    return qs.filter(epc__in=_custody_epcs(ids))


def custody_sql(user: User | None, column: str) -> tuple[str, list[Any]]:
    """``scope_units`` as an SQL condition on an EPC column, for the raw trace walks: one
    index probe of UnitCustody per row. ``("", [])`` for users who are not scoped."""
    from medtrace.ledger.models import UnitCustody

    ids = partner_ids(user)
    if ids is None:
        return "", []
    table = UnitCustody._meta.db_table
    marks = ", ".join(["%s"] * len(ids)) or "NULL"
    sql = f"EXISTS (SELECT 1 FROM {table} c WHERE c.epc = {column} AND c.party IN ({marks}))"
    return sql, ids


def epcs_in_scope(user: User | None, epcs: Iterable[str]) -> set[str]:
    """Which of ``epcs`` (canonical EPCs or EPC classes) ``user`` may see, in one query per
    500: for a partner, those with custody; for anyone else, all of them."""
    from medtrace.ledger.models import UnitCustody

    wanted = sorted(set(epcs))
    ids = partner_ids(user)
    if ids is None:
        return set(wanted)
    seen: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        seen.update(
            UnitCustody.objects.filter(party__in=ids, epc__in=part).values_list("epc", flat=True)
        )
    return seen


def _event_ids_sql(ids: list[str]) -> tuple[str, list[Any]]:
    """The ids of the events in scope of a party, as one UNION: small for a partner, so the
    database resolves it first and then reads the events by primary key."""
    from medtrace.ledger.models import (
        Event,
        EventEpc,
        EventQuantity,
        EventSourceDest,
        UnitCustody,
    )

    marks = ", ".join(["%s"] * len(ids)) or "NULL"
    custody = f"SELECT c.epc FROM {UnitCustody._meta.db_table} c WHERE c.party IN ({marks})"
    event = Event._meta.db_table
    sql = (
        f"SELECT x.event_id FROM {EventEpc._meta.db_table} x WHERE x.epc IN ({custody}) "
        f"UNION SELECT q.event_id FROM {EventQuantity._meta.db_table} q "
        f"WHERE q.epc_class IN ({custody}) "
        f"UNION SELECT s.event_id FROM {EventSourceDest._meta.db_table} s "
        f"WHERE s.value IN ({marks}) "
        f"UNION SELECT e.id FROM {event} e WHERE e.biz_location IN ({marks}) "
        f"UNION SELECT e.id FROM {event} e WHERE e.read_point IN ({marks})"
    )
    return sql, [*ids, *ids, *ids, *ids, *ids]


def _foreign_ids_sql() -> str:
    """SELECT of every identifier of every *other* outside party (one ``%s``: the partner's
    own party id): the spellings ``party_identifiers`` gives, built in SQL from the master
    data so that no list of thousands of identifiers travels as parameters. The maker's own
    parties (role manufacturer) are not outside parties: their sites are where every unit is
    made and released."""
    from medtrace.masterdata.models import Location, Party, PartyRole

    party = Party._meta.db_table
    location = Location._meta.db_table
    outside = f"p.id <> %(me)s AND p.role <> '{PartyRole.MANUFACTURER.value}'"
    gcp = "p.gs1_company_prefix"
    ref = f"substr(p.gln, length({gcp}) + 1, 12 - length({gcp}))"
    with_gcp = f"{gcp} <> '' AND substr(p.gln, 1, length({gcp})) = {gcp}"
    union = " UNION ".join(
        [
            f"SELECT l.sgln AS x FROM {location} l JOIN {party} p ON p.id = l.party_id "
            f"WHERE {outside}",
            f"SELECT l.gln FROM {location} l JOIN {party} p ON p.id = l.party_id WHERE {outside}",
            f"SELECT 'https://id.gs1.org/414/' || l.gln FROM {location} l "
            f"JOIN {party} p ON p.id = l.party_id WHERE {outside}",
            f"SELECT p.gln FROM {party} p WHERE {outside} AND p.gln <> ''",
            f"SELECT 'https://id.gs1.org/417/' || p.gln FROM {party} p "
            f"WHERE {outside} AND p.gln <> ''",
            f"SELECT 'https://id.gs1.org/414/' || p.gln FROM {party} p "
            f"WHERE {outside} AND p.gln <> ''",
            f"SELECT 'urn:epc:id:pgln:' || {gcp} || '.' || {ref} FROM {party} p "
            f"WHERE {outside} AND {with_gcp}",
            f"SELECT 'urn:epc:id:sgln:' || {gcp} || '.' || {ref} || '.0' FROM {party} p "
            f"WHERE {outside} AND {with_gcp}",
        ]
    )
    # No NULL may reach an IN list: "x IN (..., NULL)" is NULL, not false, when x is absent.
    return f"SELECT fx.x FROM ({union}) fx WHERE fx.x IS NOT NULL"


def own_events_sql(user: User, alias: str) -> tuple[str, list[Any]]:
    """The condition (on the Event row ``alias``) that keeps another outside party's events
    from a partner: an event at another outside party's location, or naming one in its
    sourceList or destinationList, is that party's business, unless it names this partner
    too (a hand-over between the two, which both see). So a unit that went to hospital A and
    later to hospital B shows B the maker's events and its own, never A's."""
    from medtrace.ledger.models import EventSourceDest

    ids = partner_ids(user) or []
    assert user.party_id is not None
    marks = ", ".join(["%s"] * len(ids)) or "NULL"
    foreign = _foreign_ids_sql().replace("%(me)s", "%s")
    per_foreign = foreign.count("%s")
    sd = EventSourceDest._meta.db_table
    # COALESCE: a missing bizLocation or readPoint must read as "not there", not as NULL
    # (which would make the whole condition NULL and hide the event).
    where = f"COALESCE({alias}.biz_location, '')"
    point = f"COALESCE({alias}.read_point, '')"
    sql = (
        f"NOT (({where} IN ({foreign}) OR {point} IN ({foreign}) "
        f"OR EXISTS (SELECT 1 FROM {sd} fs WHERE fs.event_id = {alias}.id "
        f"AND fs.value IN ({foreign}))) "
        f"AND NOT ({where} IN ({marks}) OR {point} IN ({marks}) "
        f"OR EXISTS (SELECT 1 FROM {sd} ms WHERE ms.event_id = {alias}.id "
        f"AND ms.value IN ({marks}))))"
    )
    me = [user.party_id] * per_foreign
    return sql, [*me, *me, *me, *ids, *ids, *ids]


def visible_event_pks(user: User | None, pks: Iterable[int]) -> set[int] | None:
    """Which of the events ``pks`` a partner may see (``own_events_sql``), in one query;
    ``None`` for users who are not scoped (they see all)."""
    from medtrace.ledger.models import Event

    if not is_partner(user):
        return None
    assert user is not None
    wanted = sorted(set(pks))
    cond, params = own_events_sql(user, "e")
    table = Event._meta.db_table
    seen: set[int] = set()
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        marks = ", ".join(["%s"] * len(part))
        seen.update(
            _ids(
                f"SELECT e.id FROM {table} e WHERE e.id IN ({marks}) AND {cond}",
                [*part, *params],
            )
        )
    return seen


def _ids(sql: str, params: list[Any]) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def event_q(user: User | None) -> Q:
    """``scope_events`` as a condition on Event, to AND into a query (``Q()`` when the user
    is not scoped)."""
    from medtrace.ledger.models import Event

    ids = partner_ids(user)
    if ids is None:
        return Q()
    assert user is not None
    union, params = _event_ids_sql(ids)
    # The condition reads the Event row of the query it is ANDed into (Django names it by its
    # table), so the database filters the few events in scope, not a second pass over all.
    cond, cond_params = own_events_sql(user, Event._meta.db_table)
    if connection.vendor == "postgresql":
        # OFFSET 0 keeps PostgreSQL from flattening the union into a join that it then
        # re-scans for every candidate row: as a hashed subplan each probe is O(1).
        union = f"SELECT z.event_id FROM ({union}) z OFFSET 0"
    return Q(pk__in=RawSQL(union, params)) & Q(
        RawSQL(cond, cond_params, output_field=BooleanField())
    )


def scope_events(user: User | None, qs: QuerySet[Event]) -> QuerySet[Event]:
    """The events of ``qs`` that ``user`` may see (module docstring); unchanged for internal
    users and the CLI."""
    if not is_partner(user):
        return qs
    return qs.filter(event_q(user))


# What an event names, by key: lists of EPCs, and lists of {"epcClass": ...} quantities.
_EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")


def _named(document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for key in _EPC_LISTS:
        items = document.get(key)
        if isinstance(items, list):
            found.update(v for v in items if isinstance(v, str))
    for key in _QUANTITY_LISTS:
        items = document.get(key)
        if isinstance(items, list):
            found.update(q["epcClass"] for q in items if isinstance(q, dict) and "epcClass" in q)
    parent = document.get("parentID")
    if isinstance(parent, str):
        found.add(parent)
    return found


def redact_events(user: User | None, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The event documents as ``user`` may read them.

    One event can name the objects of several parties (a commissioning event of 100 serials,
    of which 10 later went to this hospital). A partner gets such an event with every EPC list
    (epcList, childEPCs, inputEPCList, outputEPCList), quantity list and parentID cut down to
    the objects in its scope; the rest of the event is as captured. The eventID still names the
    event as captured. Internal users get the documents unchanged. One query per page.
    """
    if not is_partner(user) or not documents:
        return documents
    from medtrace.ledger.identifiers import EpcResolver

    resolver = EpcResolver()
    spelled = {value: resolver.canonical(value) for d in documents for value in _named(d)}
    visible = epcs_in_scope(user, spelled.values())
    return [redact_event(d, {v for v, c in spelled.items() if c in visible}) for d in documents]


def redact_event(document: dict[str, Any], visible: set[str]) -> dict[str, Any]:
    """``document`` with its EPC lists, quantity lists and parentID cut to ``visible``."""
    out = dict(document)
    for key in _EPC_LISTS:
        items = out.get(key)
        if isinstance(items, list):
            out[key] = [v for v in items if v in visible]
    for key in _QUANTITY_LISTS:
        items = out.get(key)
        if isinstance(items, list):
            out[key] = [q for q in items if isinstance(q, dict) and q.get("epcClass") in visible]
    parent = out.get("parentID")
    if isinstance(parent, str) and parent not in visible:
        del out["parentID"]
    return out


# Master data -----------------------------------------------------------------------------------


def scope_parties(user: User | None, qs: QuerySet[Party]) -> QuerySet[Party]:
    """A partner sees its own Party only."""
    if not is_partner(user):
        return qs
    assert user is not None and user.party_id is not None
    return qs.filter(pk=user.party_id)


def scope_locations(user: User | None, qs: QuerySet[Location]) -> QuerySet[Location]:
    """A partner sees its own party's Locations only."""
    if not is_partner(user):
        return qs
    assert user is not None and user.party_id is not None
    return qs.filter(party_id=user.party_id)


def scope_products(user: User | None, qs: QuerySet[Product]) -> QuerySet[Product]:
    """A partner sees the products of the units in its scope."""
    from medtrace.ledger.models import UnitState

    ids = partner_ids(user)
    if ids is None:
        return qs
    units = UnitState.objects.filter(epc__in=_custody_epcs(ids), product_id__isnull=False)
    return qs.filter(pk__in=units.values("product_id"))


def scope_by_party(user: User | None, qs: QuerySet[M], field: str = "party") -> QuerySet[M]:
    """Documents addressed to one party (``field``: the FK naming it, e.g. a shipment's
    consignee): a partner sees those addressed to its own party only."""
    if not is_partner(user):
        return qs
    assert user is not None and user.party_id is not None
    return qs.filter(**{f"{field}_id": user.party_id})


def unscoped_nothing(user: User | None, qs: QuerySet[M]) -> QuerySet[M]:
    """Records no partner sees (materials, BOMs: the maker's own design data)."""
    return qs.none() if is_partner(user) else qs


def visible_or_404(qs: QuerySet[M], what: str, **lookup: Any) -> M:
    """The one object of an already scoped ``qs`` matching ``lookup``, or 404 (NotFound).

    Scope first, then look up: an object outside the user's scope and one that does not exist
    give the same answer.
    """
    found = qs.filter(**lookup).first()
    if found is None:
        raise NotFound(f"No {what} {next(iter(lookup.values()), '')}", details=lookup or None)
    return found
