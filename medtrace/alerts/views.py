"""Alert pages (/alerts/): the work queue, one alert with its actions, the rules' settings and,
for the administrator, the outbox's dead letters.

Thin: each view parses the form, calls one service or selector and renders; a service's error
is shown next to its field. Partners have no work queue (403).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from medtrace.accounts.models import User
from medtrace.accounts.roles import Role
from medtrace.errors import MedtraceError, NotFound, PermissionDenied

from . import lifecycle, outbox, ruleconfig, rules, selectors
from .models import AlertRuleKind, AlertSeverity, AlertStatus, OutboxStatus

View = Callable[..., HttpResponse]
PER_PAGE = 50
WINDOW_UNITS = (("days", 86400), ("hours", 3600), ("minutes", 60))


def _forbidden(request: HttpRequest, message: str, status: int = 403) -> HttpResponse:
    return render(request, "web/forbidden.html", {"message": message}, status=status)


def staff_page(view: View) -> View:
    """Signed-in internal staff; a service's error outside a form renders with its status."""

    @login_required
    @wraps(view)
    def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        assert isinstance(user, User)
        if user.party_id is not None:
            return _forbidden(request, _("Alerts are for our own staff."))
        try:
            return view(request, *args, **kwargs)
        except MedtraceError as exc:
            return _forbidden(request, exc.message, exc.status)

    return inner


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _message(exc: MedtraceError) -> str:
    """The message without its ``field: `` prefix (it is shown next to the field)."""
    if exc.field and exc.message.startswith(f"{exc.field}: "):
        return exc.message[len(exc.field) + 2 :]
    return exc.message


# The work queue --------------------------------------------------------------------------------


@staff_page
def queue(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    scope = request.GET.get("scope", "mine")
    status = request.GET.get("status", selectors.LIVE)
    kind = request.GET.get("kind", "")
    may_see_all = user.has_perm("alerts.view_alert") or lifecycle.is_admin(user)
    if scope not in selectors.SCOPES or (scope == "all" and not may_see_all):
        scope = "mine"
    if status not in selectors.STATUS_FILTERS:
        status = selectors.LIVE
    result = selectors.work_queue(user=user, scope=scope, status=status, kind=kind[:64])
    page = Paginator(result.alerts, PER_PAGE).get_page(request.GET.get("page"))
    labels = dict(AlertRuleKind.choices)
    kinds = sorted(set(result.kinds) | set(AlertRuleKind.values) | ({kind} if kind else set()))
    context = {
        "page": page,
        "counts": result.counts,
        "kinds": [(k, labels.get(k, k), result.kinds.get(k, 0)) for k in kinds],
        "statuses": [(selectors.LIVE, _("open or acknowledged")), *AlertStatus.choices],
        "figures": [
            (value, label, result.counts.get(value))
            for value, label in [(selectors.LIVE, _("open or acknowledged")), *AlertStatus.choices]
        ],
        "filters": {"scope": scope, "status": status, "kind": kind},
        "may_see_all": may_see_all,
        "kind_labels": labels,
        "role_labels": dict(Role.choices),
    }
    return render(request, "alerts/queue.html", context)


# One alert -------------------------------------------------------------------------------------

ACTIONS = ("acknowledge", "assign", "resolve", "dismiss")


def _detail_context(request: HttpRequest, alert_id: int) -> dict[str, Any]:
    user = _user(request)
    alert = selectors.alert_get(alert_id=alert_id, user=user)
    live = alert.status in lifecycle.LIVE
    return {
        "alert": alert,
        "evidence": json.dumps(alert.evidence, indent=2, ensure_ascii=False, sort_keys=True)
        if alert.evidence
        else "",
        "can_act": live and lifecycle.can_act(alert, user),
        "may_acknowledge": alert.status == AlertStatus.OPEN,
        "assignees": list(selectors.assignees(alert)) if live else [],
        "recipient": lifecycle.recipient_text(alert),
        "history": _history(alert),
        "kind_label": dict(AlertRuleKind.choices).get(alert.kind, alert.kind),
        "errors": {},
        "post": {},
    }


def _history(alert: Any) -> list[dict[str, Any]]:
    """The audited steps in words: raised, status changes, assignments."""
    rows = []
    labels = dict(AlertStatus.choices)
    entries = selectors.alert_history(alert)
    ids = {
        c[1]
        for e in entries
        for c in [e.changes.get("assigned_to")]
        if isinstance(c, list) and len(c) == 2 and c[1]
    }
    names = {u.pk: u.display_name() for u in User.objects.filter(pk__in=ids)}
    for entry in entries:
        what = []
        if entry.action == "create":
            what.append(_("raised"))
        else:
            status = entry.changes.get("status")
            if isinstance(status, list) and len(status) == 2:
                what.append(
                    f"{labels.get(status[0], status[0])} → {labels.get(status[1], status[1])}"
                )
            assigned = entry.changes.get("assigned_to")
            if isinstance(assigned, list) and len(assigned) == 2 and assigned[1]:
                name = names.get(assigned[1], assigned[1])
                what.append(_("assigned to %(name)s") % {"name": name})
        rows.append(
            {
                "at": entry.at,
                "who": entry.actor_name,
                "what": "; ".join(map(str, what)) or "—",
                "reason": entry.reason,
            }
        )
    return rows


@staff_page
def detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    return render(request, "alerts/detail.html", _detail_context(request, alert_id))


@require_POST
@staff_page
def act(request: HttpRequest, alert_id: int, action: str) -> HttpResponse:
    user = _user(request)
    if action not in ACTIONS:
        raise NotFound(_("No alert action %(action)s") % {"action": action[:32]})
    post = request.POST
    try:
        if action == "acknowledge":
            lifecycle.alert_acknowledge(alert_id=alert_id, user=user, note=post.get("note", ""))
            messages.success(request, _("Alert acknowledged."))
        elif action == "assign":
            assignee = None
            if post.get("assignee", "").isdigit():
                assignee = User.objects.filter(pk=int(post["assignee"])).first()
            done = lifecycle.alert_assign(
                alert_id=alert_id, user=user, assignee=assignee, note=post.get("note", "")
            )
            assert done.assigned_to is not None
            messages.success(
                request, _("Assigned to %(name)s.") % {"name": done.assigned_to.display_name()}
            )
        elif action == "resolve":
            lifecycle.alert_resolve(
                alert_id=alert_id, user=user, resolution=post.get("resolution", "")
            )
            messages.success(request, _("Alert resolved."))
        else:
            lifecycle.alert_dismiss(alert_id=alert_id, user=user, reason=post.get("reason", ""))
            messages.success(request, _("Alert dismissed as a false alarm."))
    except (PermissionDenied, NotFound):
        raise
    except MedtraceError as exc:
        context = _detail_context(request, alert_id)
        context["errors"] = {action: {exc.field or "form": _message(exc)}}
        context["post"] = {"action": action, **post.dict()}
        return render(request, "alerts/detail.html", context, status=exc.status)
    return redirect("alerts:detail", alert_id=alert_id)


# Rules -----------------------------------------------------------------------------------------


def _window_parts(window: timedelta | None) -> tuple[str, str]:
    if window is None:
        return "", "days"
    seconds = int(window.total_seconds())
    for unit, size in WINDOW_UNITS:
        if seconds % size == 0:
            return str(seconds // size), unit
    return str(seconds / 60), "minutes"


@staff_page
def rule_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not user.has_perm(ruleconfig.PERM_VIEW):
        raise PermissionDenied(
            _("Reading the alert rules needs the permission %(perm)s")
            % {"perm": ruleconfig.PERM_VIEW}
        )
    rows = []
    for kind in AlertRuleKind.values:
        row = rules.rule(kind)
        value, unit = _window_parts(row.window)
        rows.append(
            {
                "rule": row,
                "spec": rules.SPECS[kind],
                "window": f"{value} {dict(_unit_labels()).get(unit, unit)}" if value else "",
                "params": json.dumps(row.params, ensure_ascii=False) if row.params else "",
            }
        )
    return render(
        request,
        "alerts/rules.html",
        {
            "rows": rows,
            "may_change": user.has_perm(ruleconfig.PERM_CHANGE),
            "role_labels": dict(Role.choices),
        },
    )


def _unit_labels() -> list[tuple[str, str]]:
    return [("days", _("days")), ("hours", _("hours")), ("minutes", _("minutes"))]


def _rule_changes(post: Any, errors: dict[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "enabled": post.get("enabled") == "on",
        "email": post.get("email") == "on",
        "severity": post.get("severity", ""),
        "recipient_role": post.get("recipient_role", ""),
    }
    threshold = post.get("threshold", "").strip()
    changes["threshold"] = threshold or None
    amount, unit = post.get("window", "").strip(), post.get("window_unit", "days")
    sizes = dict(WINDOW_UNITS)
    if not amount:
        changes["window"] = None
    else:
        try:
            number = Decimal(amount)
            if not number.is_finite() or unit not in sizes or abs(number) > 10**7:
                raise ValueError(amount)
            changes["window"] = timedelta(seconds=float(number) * sizes[unit])
        except (ArithmeticError, ValueError):
            errors["window"] = _("expected a number of days, hours or minutes, got %(v)s") % {
                "v": amount
            }
    text = post.get("params", "").strip()
    try:
        changes["params"] = json.loads(text) if text else {}
    except ValueError as exc:
        errors["params"] = _('expected a JSON object, e.g. {"overdue": true}: %(e)s') % {"e": exc}
    recipient = post.get("recipient_user", "")
    changes["recipient_user"] = (
        User.objects.filter(pk=int(recipient)).first() if recipient.isdigit() else None
    )
    return changes


@require_http_methods(["GET", "POST"])
@staff_page
def rule_edit(request: HttpRequest, kind: str) -> HttpResponse:
    user = _user(request)
    if kind not in AlertRuleKind.values:
        raise NotFound(_("No alert rule %(kind)s") % {"kind": kind[:64]})
    if not user.has_perm(ruleconfig.PERM_CHANGE):
        raise PermissionDenied(
            _("Alert rules are set by QA/RA and the administrator (permission %(perm)s)")
            % {"perm": ruleconfig.PERM_CHANGE}
        )
    row = rules.rule(kind)
    errors: dict[str, str] = {}
    status = 200
    form: dict[str, Any]
    if request.method == "POST":
        changes = _rule_changes(request.POST, errors)
        if not errors:
            try:
                ruleconfig.rule_update(
                    kind=kind, user=user, changes=changes, reason=request.POST.get("reason", "")
                )
            except (PermissionDenied, NotFound):
                raise
            except MedtraceError as exc:
                details = exc.details if isinstance(exc.details, list) else []
                for item in details or [{"field": exc.field, "message": exc.message}]:
                    field = str(item.get("field") or "form").split(".")[0]
                    message = str(item.get("message", ""))
                    prefix = f"{item.get('field')}: "
                    if message.startswith(prefix) and field != "params":
                        message = message[len(prefix) :]
                    errors.setdefault(field, message)
            else:
                messages.success(request, _("Rule saved."))
                return redirect("alerts:rules")
        status = 422
        form = dict(request.POST.items())
        form["enabled"] = request.POST.get("enabled") == "on"
        form["email"] = request.POST.get("email") == "on"
    else:
        value, unit = _window_parts(row.window)
        form = {
            "enabled": row.enabled,
            "email": row.email,
            "severity": row.severity,
            "threshold": "" if row.threshold is None else f"{row.threshold.normalize():f}",
            "window": value,
            "window_unit": unit,
            "params": json.dumps(row.params, ensure_ascii=False) if row.params else "",
            "recipient_role": row.recipient_role,
            "recipient_user": str(row.recipient_user_id or ""),
        }
    context = {
        "rule": row,
        "spec": rules.SPECS[kind],
        "form": form,
        "errors": errors,
        "severities": AlertSeverity.choices,
        "roles": Role.choices,
        "users": User.objects.filter(is_active=True, party__isnull=True).order_by("username"),
        "units": _unit_labels(),
    }
    return render(request, "alerts/rule_edit.html", context, status=status)


# Outbox ----------------------------------------------------------------------------------------


@staff_page
def outbox_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    status = request.GET.get("status", OutboxStatus.DEAD)
    if status not in OutboxStatus.values:
        status = OutboxStatus.DEAD
    qs = selectors.outbox_messages(user=user, status=status)
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "alerts/outbox.html",
        {
            "page": page,
            "status": status,
            "statuses": OutboxStatus.choices,
            "counts": selectors.outbox_counts(),
            "errors": {},
        },
    )


@require_POST
@staff_page
def outbox_replay(request: HttpRequest, message_id: int) -> HttpResponse:
    user = _user(request)
    try:
        outbox.replay(message_id, user=user, reason=request.POST.get("reason", ""))
    except (PermissionDenied, NotFound):
        raise
    except MedtraceError as exc:
        messages.error(
            request, _("Message %(id)s: %(error)s") % {"id": message_id, "error": exc.message}
        )
    else:
        messages.success(request, _("Message %(id)s queued again.") % {"id": message_id})
    return redirect(f"{reverse('alerts:outbox')}?status={OutboxStatus.DEAD}")
