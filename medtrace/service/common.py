"""What the installed-base, maintenance, ticket and scrap services share: permissions, input
checks, unit resolution (any UDI form, DESIGN §5), row locks and test-data evaluation."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from medtrace.accounts import scoping
from medtrace.accounts.models import User
from medtrace.errors import MedtraceError, PermissionDenied, ValidationFailed
from medtrace.ledger.models import UnitState
from medtrace.lifecycle.models import Attachment
from medtrace.lifecycle.services import attachment_store
from medtrace.masterdata.models import Party, PartyRole
from medtrace.trace.kinds import epc_kind

PERM_INSTALL = "service.add_installedunit"
PERM_INSTALL_CHANGE = "service.change_installedunit"
PERM_INSTALL_VIEW = "service.view_installedunit"
PERM_PLAN = "service.add_maintenanceplan"
PERM_PLAN_CHANGE = "service.change_maintenanceplan"
PERM_PLAN_VIEW = "service.view_maintenanceplan"
PERM_VISIT = "service.add_maintenancevisit"
PERM_VISIT_VIEW = "service.view_maintenancevisit"
PERM_TICKET = "service.add_serviceticket"
PERM_TICKET_CHANGE = "service.change_serviceticket"
PERM_TICKET_VIEW = "service.view_serviceticket"
PERM_SCRAP = "service.add_scraprecord"
PERM_SCRAP_VIEW = "service.view_scraprecord"

# Company business transaction types naming our service documents in the events they cause
# (CBV 2.0 has none for them; "testres" names the test report of a visit or a repair, "rma" the
# return authorisation).
BTT_INSTALLATION = "urn:medtrace:btt:installation"
BTT_TICKET = "urn:medtrace:btt:service_ticket"
BTT_SCRAP = "urn:medtrace:btt:scrap"

MAX_TEXT = 300
# How far in the future a recorded time may lie (clock skew of a handheld), and how far back.
FUTURE_SLACK = timedelta(minutes=10)


def is_partner(user: User | None) -> bool:
    return scoping.is_partner(user)


def partner_hospital(user: User | None) -> Party | None:
    """The hospital of a hospital partner user; None for staff, the CLI and other partners."""
    if not is_partner(user):
        return None
    assert user is not None
    party = user.party
    return party if party is not None and party.role == PartyRole.HOSPITAL else None


def require(user: User | None, perm: str, what: str, *, hospitals: bool = False) -> None:
    """Staff need ``perm``; the system (``None``: CLI, demo) may do everything. A partner user
    is refused unless ``hospitals`` allows hospital partners (who are then limited to their own
    hospital's units by the service)."""
    if user is None:
        return
    if is_partner(user):
        if hospitals and partner_hospital(user) is not None:
            return
        raise PermissionDenied(
            f"Partner accounts cannot {what}", details={"required": perm, "partner": True}
        )
    if not user.has_perm(perm):
        raise PermissionDenied(
            f"You need the permission {perm} to {what}", details={"required": perm}
        )


def invalid(field: str, message: str, code: str = "invalid") -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}",
        field=field,
        details=[{"field": field, "message": message, "code": code}],
    )


def text(field: str, value: Any, *, required: bool = False, max_length: int = MAX_TEXT) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(field, "expected text")
    out = value.strip()
    if required and not out:
        raise invalid(field, "this field is required", "required")
    if len(out) > max_length:
        raise invalid(field, f"at most {max_length} characters", "max_length")
    return out


def moment(field: str, value: Any) -> datetime:
    """A recorded time: now when empty; never in the future (a record says what happened)."""
    now = timezone.now()
    if value in (None, ""):
        return now
    if isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            try:
                parsed = datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
            except ValueError:
                raise invalid(
                    field, "expected a date and time, e.g. 2026-03-01T14:30:00+08:00"
                ) from None
        value = parsed
    if not isinstance(value, datetime):
        raise invalid(field, "expected a date and time")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + FUTURE_SLACK:
        raise invalid(field, f"{value:%Y-%m-%d %H:%M} is in the future", "future")
    return value


def positive_int(field: str, value: Any, *, minimum: int = 1, maximum: int = 100_000) -> int:
    if isinstance(value, bool):
        raise invalid(field, "expected a whole number")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(field, "expected a whole number") from None
    if number != value and not (isinstance(value, str) and value.strip() == str(number)):
        raise invalid(field, "expected a whole number")
    if not minimum <= number <= maximum:
        raise invalid(field, f"expected a number from {minimum} to {maximum}, got {number}")
    return number


# Units -----------------------------------------------------------------------------------------


def resolve_unit(value: Any, *, user: User | None, field: str) -> UnitState:
    """The unit ``value`` names (any UDI form, EPC URN or bare serial), as ``user`` may see it.

    404 when the ledger has never seen it, or when a partner may not see it (DESIGN §9); 422
    when it names a lot or a case instead of one unit.
    """
    from medtrace.trace.selectors import resolve_target

    raw = text(field, value, required=True, max_length=1000)
    try:
        target = resolve_target(raw, user=user, allow_class=False)
    except MedtraceError as exc:
        raise type(exc)(f"{field}: {exc.message}", field=field, details=exc.details) from exc
    kind = epc_kind(target.epc)
    if kind not in ("serial", "object"):
        what = {"container": "a case or pallet (SSCC)", "lot": "a lot", "class": "a class"}
        raise invalid(
            field,
            f"{raw!r} names {what.get(kind, kind)}, not one unit; scan the unit's own UDI "
            "(with its serial number)",
            "not_a_unit",
        )
    state = UnitState.objects.select_related("product").filter(epc=target.epc).first()
    if state is None:
        raise invalid(field, f"{target.epc} has no current state in the ledger", "not_commissioned")
    return state


def lock_units(epcs: Iterable[str]) -> list[UnitState]:
    """Lock the units' projection rows (ordered by key), so two stations acting on the same
    unit run one after the other and the second sees the first's result."""
    return list(
        UnitState.objects.select_for_update().filter(epc__in=sorted(set(epcs))).order_by("epc")
    )


def label(state: UnitState) -> str:
    return state.serial or state.epc


# Test data -------------------------------------------------------------------------------------


def _number(field: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise invalid(field, "expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise invalid(field, f"expected a number, got {value!r}") from None
    if math.isnan(number) or math.isinf(number):
        raise invalid(field, "expected a finite number")
    return number


def plan_items(items: Any, *, field: str = "items") -> list[dict[str, Any]]:
    """Checklist / test items of a plan: name, unit, min and max (limits optional)."""
    if items in (None, ""):
        return []
    if not isinstance(items, list):
        raise invalid(field, "expected a list of items")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping):
            raise invalid(where, "expected an object with name, unit, min and max")
        unknown = sorted(set(item) - {"name", "unit", "min", "max"})
        if unknown:
            raise invalid(f"{where}.{unknown[0]}", "unknown key; expected name, unit, min, max")
        name = text(f"{where}.name", item.get("name"), required=True, max_length=100)
        if name.lower() in seen:
            raise invalid(f"{where}.name", f"{name!r} is listed twice", "duplicate")
        seen.add(name.lower())
        low = _number(f"{where}.min", item.get("min"))
        high = _number(f"{where}.max", item.get("max"))
        if low is not None and high is not None and low > high:
            raise invalid(f"{where}.max", f"the upper limit {high:g} is below the lower {low:g}")
        out.append(
            {
                "name": name,
                "unit": text(f"{where}.unit", item.get("unit"), max_length=20),
                "min": low,
                "max": high,
            }
        )
    return out


def evaluate(
    measurements: Any,
    *,
    items: Sequence[Mapping[str, Any]] = (),
    field: str = "measurements",
) -> list[dict[str, Any]]:
    """Judge each measurement against its limits (given with it, or the plan item's of the same
    name); a check without limits carries its own ``pass``. Every plan item must be answered.

    Returns rows ``{"name", "value", "unit", "min", "max", "pass"}`` (``pass`` None when the
    value cannot be judged).
    """
    if measurements in (None, ""):
        measurements = []
    if not isinstance(measurements, list):
        raise invalid(field, "expected a list of measurements")
    by_name = {str(item["name"]).lower(): item for item in items}
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, raw in enumerate(measurements):
        where = f"{field}[{index}]"
        if not isinstance(raw, Mapping):
            raise invalid(where, "expected an object with name and value (and min, max, pass)")
        unknown = sorted(set(raw) - {"name", "value", "unit", "min", "max", "pass"})
        if unknown:
            raise invalid(
                f"{where}.{unknown[0]}", "unknown key; expected name, value, unit, min, max, pass"
            )
        name = text(f"{where}.name", raw.get("name"), required=True, max_length=100)
        if name.lower() in seen:
            raise invalid(f"{where}.name", f"{name!r} is measured twice", "duplicate")
        seen.add(name.lower())
        item = by_name.get(name.lower(), {})
        low = _number(f"{where}.min", raw.get("min", item.get("min")))
        high = _number(f"{where}.max", raw.get("max", item.get("max")))
        value = raw.get("value")
        given = raw.get("pass")
        if given is not None and not isinstance(given, bool):
            raise invalid(f"{where}.pass", "expected true or false")
        verdict: bool | None = given
        if low is not None or high is not None:
            number = _number(f"{where}.value", value)
            if number is None:
                raise invalid(f"{where}.value", f"{name} has limits, so it needs a measured value")
            within = (low is None or number >= low) and (high is None or number <= high)
            if given is not None and given != within:
                raise invalid(
                    f"{where}.pass",
                    f"{name} = {number:g} is {'within' if within else 'outside'} "
                    f"[{'' if low is None else f'{low:g}'}, {'' if high is None else f'{high:g}'}]"
                    f", so it {'passes' if within else 'fails'}",
                    "contradicts_limits",
                )
            verdict = within
            value = number
        elif isinstance(value, bool) and verdict is None:
            verdict = value
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            raise invalid(f"{where}.value", "expected a number, text, true or false")
        rows.append(
            {
                "name": name,
                "value": value,
                "unit": text(f"{where}.unit", raw.get("unit", item.get("unit", "")), max_length=20),
                "min": low,
                "max": high,
                "pass": verdict,
            }
        )
    missing = [str(item["name"]) for item in items if str(item["name"]).lower() not in seen]
    if missing:
        raise invalid(
            field,
            f"the plan's item {missing[0]!r} has no result"
            + (f" (nor {', '.join(repr(m) for m in missing[1:])})" if len(missing) > 1 else "")
            + "; record every checklist and test item",
            "incomplete",
        )
    return rows


def verdict(
    rows: Sequence[Mapping[str, Any]], given: Any, *, field: str = "result", evidence: bool
) -> str:
    """The overall result: a failed row fails it; ``given`` may only agree with the rows."""
    failed = [row["name"] for row in rows if row.get("pass") is False]
    if given not in (None, ""):
        if given not in ("pass", "fail"):
            raise invalid(field, f"{given!r} is not a result; expected pass or fail")
        if given == "pass" and failed:
            raise invalid(
                field,
                f"cannot pass: {failed[0]!r} is out of its limits"
                + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""),
                "contradicts_measurements",
            )
        return str(given)
    if failed:
        return "fail"
    if not rows and not evidence:
        raise invalid(
            field,
            "give the test data (measurements or a report file) or the result, pass or fail",
            "required",
        )
    if rows and any(row.get("pass") is None for row in rows) and not evidence:
        unjudged = next(row["name"] for row in rows if row.get("pass") is None)
        raise invalid(
            field,
            f"{unjudged!r} has no limits and no pass/fail; give the overall result",
            "required",
        )
    return "pass"


def attachment_from(data: Any, *, user: User | None, field: str) -> Attachment | None:
    """An uploaded test report: ``{"name", "content_base64", "content_type"}`` from the API,
    or ``(name, bytes, content_type)`` from a form."""
    if data in (None, ""):
        return None
    if isinstance(data, tuple):
        name, content, content_type = data
        return attachment_store(
            name=name, content=content, content_type=content_type, user=user, field=field
        )
    if not isinstance(data, Mapping):
        raise invalid(field, "expected {name, content_base64, content_type}")
    try:
        content = base64.b64decode(str(data.get("content_base64") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{field}.content_base64", "not valid base64") from None
    return attachment_store(
        name=str(data.get("name") or ""),
        content=content,
        content_type=str(data.get("content_type") or ""),
        user=user,
        field=field,
    )


def printed_name(user: User | None) -> str:
    if user is None:
        return ""
    return user.display_name() if hasattr(user, "display_name") else user.get_username()
