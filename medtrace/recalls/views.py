"""Recall pages for our own staff (/recalls/): the campaign list, opening a recall (scope,
preview, open) and the campaign page with its steps (recompute and extend the scope, classify,
approve, notices, effectiveness, reports, close).

Thin: each view parses the form, calls one service or selector of this app and renders; a
service's error is shown next to its field with the service's message. The campaign page's
forms post to ``campaign_action`` (``/recalls/<number>/do/<action>/``), which re-renders the
page with the error in place, or redirects back to the section acted on. The notice pages and
the partner portal are in ``views_notices.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Min, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from medtrace.accounts.models import User
from medtrace.audit.signatures import signatures_for
from medtrace.errors import MedtraceError, NotFound
from medtrace.exports import lists
from medtrace.exports.tabular import wants_export
from medtrace.masterdata.models import Material, Product

from . import campaigns, common, effectiveness, notices, scope, selectors
from .models import (
    CampaignStatus,
    CnLevel,
    ContactResult,
    EffectivenessLevel,
    FdaClass,
    NoticeStatus,
    RecallCampaign,
    RecallDepth,
    ScopeKind,
    UnitStatus,
)
from .views_common import actor, as_datetime, countdown, errors_of, span_text, staff_page

UNITS_PER_PAGE = 50
LIST_LIMIT = 200


# The list --------------------------------------------------------------------------------------


def _next_deadline(campaign: RecallCampaign, notice_due: Any) -> dict[str, Any]:
    """The campaign's earliest deadline still running: its own clocks (plan, 806, summary) and
    the notification of consignees not yet notified."""
    now = timezone.now()
    candidates = []
    for row in campaign.deadlines or []:
        due = as_datetime(row.get("due"))
        if due is None:
            continue
        if row.get("key") == "cn_recall_notify" and campaign.all_notified_at is not None:
            continue
        label = row.get("label") or row.get("key") or ""
        candidates.append((due, _(label) if label else ""))
    if notice_due is not None:
        candidates.append((notice_due, _("notify the consignees")))
    if campaign.status == CampaignStatus.CLOSED or not candidates:
        return {"state": "none", "text": "—", "due": None, "label": ""}
    due, label = min(candidates, key=lambda c: c[0])
    return {**countdown(due, now=now), "label": label}


@staff_page(to_portal=True)
def campaign_list(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    status = request.GET.get("status", "")
    drill = request.GET.get("drill", "")
    classification = request.GET.get("class", "")
    q = request.GET.get("q", "").strip()
    qs: QuerySet[RecallCampaign] = common.campaigns_visible(user)
    if status in CampaignStatus.values:
        qs = qs.filter(status=status)
    if drill == "yes":
        qs = qs.filter(drill=True)
    elif drill == "no":
        qs = qs.filter(drill=False)
    if classification in ("1", "2", "3"):
        qs = qs.filter(cn_level=int(classification))
    elif classification in FdaClass.values:
        qs = qs.filter(fda_class=classification)
    elif classification == "eu":
        qs = qs.filter(eu_fsca=True)
    elif classification == "none":
        qs = qs.filter(classified_at__isnull=True)
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q))
    if wants_export(request):
        return lists.respond(request, "recalls", qs)
    qs = qs.annotate(
        notice_count=Count("notices", distinct=True),
        notified=Count("notices", filter=~Q(notices__status=NoticeStatus.DRAFT), distinct=True),
        acknowledged=Count(
            "notices", filter=Q(notices__acknowledged_at__isnull=False), distinct=True
        ),
        notify_due=Min("notices__deadline_at", filter=Q(notices__sent_at__isnull=True)),
    )
    total = qs.count()
    rows = [
        {"c": c, "next": _next_deadline(c, c.notify_due)}
        for c in qs.select_related("complaint")[:LIST_LIMIT]
    ]
    context = {
        "rows": rows,
        "total": total,
        "limit": LIST_LIMIT,
        "filters": {"status": status, "drill": drill, "class": classification, "q": q},
        "statuses": CampaignStatus.choices,
        "cn_levels": CnLevel.choices,
        "fda_classes": FdaClass.choices,
    }
    return render(request, "recalls/list.html", context)


# Opening a recall ------------------------------------------------------------------------------

# Form inputs per scope kind; the service's parameter names are mapped back onto them so that an
# error appears next to the input it is about.
SCOPE_INPUTS = {
    ScopeKind.LOT: {"lot": "lot", "product_id": "lot_product"},
    ScopeKind.SERIALS: {"serials": "serials"},
    ScopeKind.SUPPLIER_LOT: {
        "lot": "supplier_lot",
        "material_id": "material_id",
        "material_lot_id": "supplier_lot",
    },
    ScopeKind.PRODUCT_RANGE: {
        "product_id": "range_product",
        "from": "range_from",
        "to": "range_to",
    },
    ScopeKind.WORK_ORDER: {"work_order": "work_order"},
}
NEW_FIELDS = (
    "kind",
    "lot",
    "lot_product",
    "serials",
    "supplier_lot",
    "material_id",
    "range_product",
    "range_from",
    "range_to",
    "work_order",
    "complaint",
    "title",
    "reason",
    "drill",
)


def _scans(text: str) -> list[str]:
    """One scan a line; a keyboard-wedge scanner ends each with Enter (GS separators kept)."""
    return [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]


def _scope_params(kind: str, form: dict[str, str]) -> dict[str, Any]:
    if kind == ScopeKind.LOT:
        params: dict[str, Any] = {"lot": form["lot"]}
        if form["lot_product"]:
            params["product_id"] = form["lot_product"]
        return params
    if kind == ScopeKind.SERIALS:
        return {"serials": _scans(form["serials"])}
    if kind == ScopeKind.SUPPLIER_LOT:
        params = {"lot": form["supplier_lot"]}
        if form["material_id"]:
            params["material_id"] = form["material_id"]
        return params
    if kind == ScopeKind.PRODUCT_RANGE:
        return {
            "product_id": form["range_product"],
            "from": form["range_from"],
            "to": form["range_to"],
        }
    if kind == ScopeKind.WORK_ORDER:
        return {"work_order": form["work_order"]}
    return {}


def _new_form(request: HttpRequest) -> dict[str, str]:
    source = request.POST if request.method == "POST" else request.GET
    form = {name: source.get(name, "").strip() for name in NEW_FIELDS}
    form["serials"] = source.get("serials", "")
    if request.method == "GET":
        # From the forward-trace page: /recalls/new/?kind=lot&id=<the lot>
        ident = request.GET.get("id", "").strip()
        if ident:
            if form["kind"] == ScopeKind.SERIALS:
                form["serials"] = ident
            elif form["kind"] == ScopeKind.SUPPLIER_LOT:
                form["supplier_lot"] = ident
            elif form["kind"] == ScopeKind.WORK_ORDER:
                form["work_order"] = ident
            else:
                form["kind"], form["lot"] = ScopeKind.LOT, ident
    if form["kind"] not in ScopeKind.values:
        form["kind"] = ScopeKind.LOT
    return form


def _scope_errors(exc: MedtraceError, kind: str) -> dict[str, Any]:
    rename = dict(SCOPE_INPUTS.get(ScopeKind(kind), {}))
    rename["params"] = "form"
    return errors_of(exc, NEW_FIELDS, rename)


@staff_page(common.PERM_OPEN)
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    form = _new_form(request)
    kind = form["kind"]
    action = request.POST.get("action", "preview") if request.method == "POST" else ""
    errors: dict[str, Any] = {}
    status = 200
    preview: dict[str, Any] | None = None
    wants_preview = action == "preview" or (request.method == "GET" and request.GET.get("id"))
    if action == "open":
        try:
            campaign = campaigns.recall_open(
                title=form["title"],
                reason=form["reason"],
                kind=kind,
                params=_scope_params(kind, form),
                complaint=form["complaint"] or None,
                drill=form["drill"] == "on",
                user=user,
            )
        except MedtraceError as exc:
            errors, status = _scope_errors(exc, kind), exc.status
        else:
            messages.success(
                request,
                _(
                    "%(number)s opened: %(n)s units frozen in the scope; the units in our "
                    "hands are on recall hold."
                )
                % {"number": campaign.number, "n": campaign.affected_count}
                if not campaign.drill
                else _("%(number)s opened as a drill: %(n)s units frozen in the scope; no holds.")
                % {"number": campaign.number, "n": campaign.affected_count},
            )
            return redirect("recalls:detail", number=campaign.number)
    if wants_preview or errors:
        try:
            preview = scope.recall_scope_preview(
                kind=kind, params=_scope_params(kind, form), user=user
            )
        except MedtraceError as exc:
            if not errors:
                errors = _scope_errors(exc, kind)
                status = exc.status if request.method == "POST" else 200
    context = {
        "form": form,
        "errors": errors,
        "preview": preview,
        "kinds": ScopeKind.choices,
        "products": Product.objects.filter(active=True).order_by("model"),
        "materials": Material.objects.order_by("code"),
    }
    return render(request, "recalls/new.html", context, status=status)


# The campaign page -----------------------------------------------------------------------------

CLASSIFY_FIELDS = (
    "cn_level",
    "fda_class",
    "eu_fsca",
    "depth",
    "hhe_hazard",
    "hhe_severity",
    "hhe_probability",
    "hhe_population",
    "hhe_summary",
    "strategy",
    "effectiveness_level",
)
ACTION_FIELDS = (
    *CLASSIFY_FIELDS,
    "password",
    "summary",
    "epcs",
    "reason",
    "level",
    "percent",
    "result",
    "note",
    "effective",
    "conclusion",
    "contact",
)


def _deadline_rows(campaign: RecallCampaign) -> list[dict[str, Any]]:
    now = timezone.now()
    rows = []
    for row in campaign.deadlines or []:
        due = as_datetime(row.get("due"))
        done = campaign.all_notified_at if row.get("key") == "cn_recall_notify" else None
        if row.get("key") == "cn_recall_summary" and campaign.closed_at is not None:
            done = None  # the report is filed outside medtrace; show the clock as it runs
        rows.append(
            {
                "key": row.get("key", ""),
                "jurisdiction": row.get("jurisdiction", ""),
                "label": _(row["label"]) if row.get("label") else row.get("key", ""),
                "basis": _(row["basis"]) if row.get("basis") else "",
                # A clock whose calendar lacks the year: its error, never a guessed date.
                "error": row.get("error", ""),
                **countdown(due, done=done, now=now),
            }
        )
    return rows


def _scope_params_shown(campaign: RecallCampaign) -> list[tuple[str, str]]:
    """The scope's parameters as typed, a long list of scans as its count."""
    out = []
    for key, value in (campaign.scope.get("params") or {}).items():
        if isinstance(value, list):
            shown = ", ".join(str(v) for v in value[:3])
            if len(value) > 3:
                shown = _("%(first)s and %(n)s more") % {"first": shown, "n": len(value) - 3}
        else:
            shown = str(value)
        out.append((str(key), shown))
    return out


def _unit_page(request: HttpRequest, campaign: RecallCampaign) -> dict[str, Any]:
    holder = request.GET.get("holder", "")
    status = request.GET.get("unit_status", "")
    qs = selectors.units_list(
        campaign=campaign,
        holder=holder or None,
        status=status if status in UnitStatus.values else None,
    ).order_by("holder_name", "holder_gln", "serial", "epc")
    paginator = Paginator(qs, UNITS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    by_holder = list(
        campaign.units.values("holder_gln", "holder_name", "holder_role")
        .annotate(
            count=Count("pk"),
            held=Count("pk", filter=Q(under_control=True)),
            pending=Count("pk", filter=Q(status=UnitStatus.PENDING)),
        )
        .order_by("-count", "holder_name")
    )
    return {
        "units": page,
        "by_holder": by_holder,
        "unit_filters": {"holder": holder, "unit_status": status},
        "unit_statuses": UnitStatus.choices,
    }


def _progress(campaign: RecallCampaign) -> dict[str, Any]:
    figures = selectors.recall_progress(campaign=campaign)
    seconds = figures.get("response_seconds")
    figures["response"] = _duration(seconds) if seconds is not None else ""
    return figures


def _duration(seconds: float) -> str:
    return span_text(timedelta(seconds=seconds))


def _effectiveness(campaign: RecallCampaign) -> list[dict[str, Any]]:
    checks = []
    for check in campaign.effectiveness_checks.order_by("id"):
        contacts = list(check.contacts.select_related("notice__consignee").order_by("id"))
        checks.append(
            {
                "check": check,
                "contacts": contacts,
                "done": sum(1 for c in contacts if c.result != ContactResult.PENDING),
            }
        )
    return checks


def _report_links(campaign: RecallCampaign) -> list[dict[str, Any]]:
    from .views_documents import REPORT_KINDS

    out = []
    for kind, label in REPORT_KINDS:
        pdf = reverse("recalls:report", args=[campaign.number, kind, "pdf"])
        xlsx = reverse("recalls:report", args=[campaign.number, kind, "xlsx"])
        out.append(
            {
                "kind": kind,
                "label": label,
                "pdf": pdf,
                "xlsx": xlsx,
                "pdf_zh": pdf + "?lang=zh-hans",
                "pdf_en": pdf + "?lang=en",
            }
        )
    return out


def _campaign_page(
    request: HttpRequest,
    campaign: RecallCampaign,
    *,
    errors: dict[str, Any] | None = None,
    action: str = "",
    status: int = 200,
) -> HttpResponse:
    user = actor(request)
    notice_rows = list(
        campaign.notices.select_related("consignee")
        .prefetch_related("deliveries")
        .annotate(
            pending=Count("units", filter=Q(units__status=UnitStatus.PENDING)),
        )
        .order_by("number")
    )
    now = timezone.now()
    for n in notice_rows:
        n.clock = countdown(n.deadline_at, done=n.sent_at, now=now)  # type: ignore[attr-defined]
    recompute = None
    if request.GET.get("recompute") and request.method == "GET":
        try:
            recompute = scope.recall_scope_recompute(campaign=campaign, user=user)
        except MedtraceError as exc:
            errors = {**(errors or {}), "recompute": exc.message}
    post = request.POST if request.method == "POST" else {}
    is_open = campaign.status == CampaignStatus.OPEN
    can = {
        "run": is_open and user.has_perm(common.PERM_RUN),
        "approve": is_open
        and user.has_perm(common.PERM_APPROVE)
        and campaign.classified_at is not None
        and campaign.approved_at is None,
        "notices": is_open and user.has_perm(common.PERM_NOTICE),
        "effectiveness": is_open and user.has_perm(common.PERM_EFFECTIVENESS),
        "close": is_open and user.has_perm(common.PERM_APPROVE),
    }
    # An error of a step whose form is not shown (the recall closed meanwhile) goes to the top.
    shown_by = {"classify": "run", "extend": "run", "approve": "approve", "close": "close"}
    step = shown_by.get(action, action.split("-")[0])
    top_error = ""
    if errors and action and not can.get(step):
        top_error = next(iter(errors.get(action.replace("-", "_"), {}).values()), "")
    unassigned = campaign.units.filter(
        notice__isnull=True,
        under_control=False,
        status=UnitStatus.PENDING,
        holder__role__in=common.CONSIGNEE_ROLES,
    ).count()
    context = {
        "c": campaign,
        "scope_params": _scope_params_shown(campaign),
        "deadlines": _deadline_rows(campaign),
        "notices": notice_rows,
        "drafts": sum(1 for n in notice_rows if n.status == NoticeStatus.DRAFT),
        "unassigned": unassigned,
        "progress": _progress(campaign),
        "checks": _effectiveness(campaign),
        "signatures": signatures_for(campaign),
        "blockers": campaigns.close_blockers(campaign) if is_open else [],
        "recompute": recompute,
        "reports": _report_links(campaign),
        "errors": errors or {},
        "top_error": top_error,
        "action": action,
        "post": post,
        "can": can,
        "cn_levels": CnLevel.choices,
        "fda_classes": FdaClass.choices,
        "depths": RecallDepth.choices,
        "levels": EffectivenessLevel.choices,
        "contact_results": [c for c in ContactResult.choices if c[0] != ContactResult.PENDING],
        "notice_deadline": notices.notice_deadline(campaign),
        **_unit_page(request, campaign),
    }
    return render(request, "recalls/detail.html", context, status=status)


@staff_page()
def campaign_detail(request: HttpRequest, number: str) -> HttpResponse:
    campaign = common.campaign_get(number=number, user=actor(request))
    return _campaign_page(request, campaign)


# Campaign actions ------------------------------------------------------------------------------


def _classify(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    p = request.POST
    campaigns.recall_classify(
        campaign=campaign,
        cn_level=int(p["cn_level"]) if p.get("cn_level", "").isdigit() else None,
        fda_class=p.get("fda_class", ""),
        eu_fsca=p.get("eu_fsca") == "on",
        depth=p.get("depth", ""),
        hhe={key: p.get(f"hhe_{key}", "") for key in campaigns.HHE_KEYS},
        strategy=p.get("strategy", ""),
        hhe_summary=p.get("hhe_summary", ""),
        effectiveness_level=p.get("effectiveness_level", ""),
        user=user,
    )
    return _("%(number)s classified. Approve it with your e-signature next.")


def _approve(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    campaigns.recall_approve(
        campaign=campaign, password=request.POST.get("password", ""), user=user
    )
    return _("%(number)s approved (e-signed): the regulatory clocks are running.")


def _extend(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    scans = _scans(request.POST.get("epcs", ""))
    if request.POST.get("added") == "all":
        # "Add the new units" of a recompute: what the same starts reach now and is not frozen.
        diff = scope.recall_scope_recompute(campaign=campaign, user=user)
        scans = [u["epc"] for u in diff["added"]]
        if not scans:
            raise common.invalid("epcs", _("the recompute found no new units to add"), "empty")
    rows = campaigns.recall_scope_extend(
        campaign=campaign, epcs=scans, user=user, reason=request.POST.get("reason", "")
    )
    return _("%(number)s: %(n)s units added to the scope.") % {
        "number": "%(number)s",
        "n": len(rows),
    }


def _notices_create(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    created = notices.recall_notices_create(campaign=campaign, user=user)
    if not created:
        return _("%(number)s: every consignee already has its notice.")
    return _("%(number)s: %(n)s notices created or extended.") % {
        "number": "%(number)s",
        "n": len(created),
    }


def _notices_send(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    sent = notices.recall_notices_send(campaign=campaign, user=user)
    if not sent:
        return _("%(number)s: no draft notice to send.")
    return _("%(number)s: %(n)s notices sent.") % {"number": "%(number)s", "n": len(sent)}


def _effectiveness_start(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    p = request.POST
    effectiveness.effectiveness_check_start(
        campaign=campaign,
        level=p.get("level", ""),
        percent=p.get("percent") or None,
        user=user,
    )
    return _("%(number)s: effectiveness check started.")


def _effectiveness_contact(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    from .models import EffectivenessContact

    p = request.POST
    contact = (
        EffectivenessContact.objects.select_related("effectiveness_check", "notice")
        .filter(
            pk=int(p["contact"]) if p.get("contact", "").isdigit() else 0,
            effectiveness_check__campaign=campaign,
        )
        .first()
    )
    if contact is None:
        raise NotFound(_("No such effectiveness contact on %(n)s") % {"n": campaign.number})
    effectiveness.effectiveness_contact_record(
        check=contact.effectiveness_check,
        notice=contact.notice,
        result=p.get("result", ""),
        note=p.get("note", ""),
        user=user,
    )
    return _("%(number)s: contact recorded.")


def _effectiveness_conclude(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    p = request.POST
    effective = {"yes": True, "no": False}.get(p.get("effective", ""))
    effectiveness.effectiveness_conclude(
        campaign=campaign,
        effective=effective,  # type: ignore[arg-type]
        conclusion=p.get("conclusion", ""),
        user=user,
    )
    return _("%(number)s: effectiveness concluded.")


def _close(request: HttpRequest, campaign: RecallCampaign, user: User) -> str:
    campaigns.recall_close(
        campaign=campaign,
        password=request.POST.get("password", ""),
        summary=request.POST.get("summary", ""),
        user=user,
    )
    return _("%(number)s closed (e-signed).")


Handler = Callable[[HttpRequest, RecallCampaign, User], str]
ACTIONS: dict[str, tuple[str, Handler, str]] = {
    # action: (permission, handler, section of the page to return to)
    "classify": (common.PERM_RUN, _classify, "classification"),
    "approve": (common.PERM_APPROVE, _approve, "classification"),
    "extend": (common.PERM_RUN, _extend, "scope"),
    "notices-create": (common.PERM_NOTICE, _notices_create, "notices"),
    "notices-send": (common.PERM_NOTICE, _notices_send, "notices"),
    "effectiveness-start": (common.PERM_EFFECTIVENESS, _effectiveness_start, "effectiveness"),
    "effectiveness-contact": (common.PERM_EFFECTIVENESS, _effectiveness_contact, "effectiveness"),
    "effectiveness-conclude": (common.PERM_EFFECTIVENESS, _effectiveness_conclude, "effectiveness"),
    "close": (common.PERM_APPROVE, _close, "close"),
}


@staff_page()
@require_POST
def campaign_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    user = actor(request)
    campaign = common.campaign_get(number=number, user=user)
    if action not in ACTIONS:
        raise NotFound(_("No such recall action: %(action)s") % {"action": action})
    perm, handler, section = ACTIONS[action]
    if not user.has_perm(perm):
        from .views_common import forbidden

        return forbidden(
            request,
            _("You need the permission %(perm)s for this recall step.") % {"perm": perm},
        )
    try:
        message = handler(request, campaign, user)
    except NotFound:
        raise
    except MedtraceError as exc:
        campaign.refresh_from_db()
        # {"classify": {"cn_level": "..."}}: the template shows each form's own errors.
        errors = {action.replace("-", "_"): errors_of(exc, ACTION_FIELDS)}
        return _campaign_page(request, campaign, errors=errors, action=action, status=exc.status)
    messages.success(request, message % {"number": campaign.number})
    return redirect(reverse("recalls:detail", args=[campaign.number]) + f"#{section}")
