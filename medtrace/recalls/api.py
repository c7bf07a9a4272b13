"""Recall endpoints: /api/v1/recalls (campaigns) and /api/v1/recall-notices (consignees).

Scopes: ``recalls:read`` to read campaigns, ``recalls:write`` to run them (internal staff only;
partner tokens cannot carry either). A distributor's or hospital's own users read, acknowledge
and report on the notices addressed to their party with ``recall:ack`` (another party's notice,
or a drill's, is a 404 to them); staff read notices with ``recalls:read`` or ``recall:ack`` and act
on a consignee's behalf with ``recalls:write`` or ``recall:ack``.
"""

# No `from __future__ import annotations`: ninja reads the schemas from the annotations.
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict, Field

from medtrace.accounts.models import User
from medtrace.api import require_scope
from medtrace.audit.signatures import signatures_for
from medtrace.core.pagination import Pagination
from medtrace.errors import NotFound

from . import selectors, services
from .common import campaign_get, is_partner, notice_get
from .models import AffectedUnit, EffectivenessCheck, RecallCampaign, RecallNotice

router = Router(tags=["recalls"])

READ, WRITE, ACK = "recalls:read", "recalls:write", "recall:ack"


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid")


# Inputs ----------------------------------------------------------------------------------------


class ScopeIn(StrictIn):
    kind: Literal["lot", "serials", "supplier_lot", "product_range", "work_order"]
    params: dict[str, Any] = Field(
        description="lot: {lot} (any UDI with a lot, an LGTIN URN) or {lot, product_id}; "
        "serials: {serials: [UDI, ...]} (units or SSCCs); supplier_lot: {material_lot_id} or "
        "{material_id, lot} or {lot: UDI of the material lot}; product_range: {product_id, from, "
        "to} (YYYY-MM-DD, commissioning dates); work_order: {work_order: number}"
    )


class RecallIn(ScopeIn):
    title: str
    reason: str
    complaint: str | None = Field(None, description="Number of the complaint behind it")
    drill: bool = False


class ExtendIn(StrictIn):
    epcs: list[str] = Field(description="Units or SSCCs in any UDI form")
    reason: str = ""


class HheIn(StrictIn):
    hazard: str
    severity: str
    probability: str
    population: str = Field(description="The population at risk")


class ClassifyIn(StrictIn):
    cn_level: Literal[1, 2, 3] | None = Field(None, description="NMPA 一级/二级/三级")
    fda_class: Literal["", "I", "II", "III"] = ""
    eu_fsca: bool = False
    depth: Literal["wholesale", "retail", "user"]
    hhe: HheIn
    hhe_summary: str = ""
    strategy: str
    effectiveness_level: Literal["", "A", "B", "C", "D", "E"] = ""


class SignIn(StrictIn):
    password: str = Field(description="Your password, re-entered for the e-signature")


class CloseIn(SignIn):
    summary: str


class CheckIn(StrictIn):
    level: Literal["A", "B", "C", "D", "E"]
    percent: Decimal | None = Field(None, description="Level B: share of consignees, 10-100")


class ContactIn(StrictIn):
    notice: str = Field(description="Number of the sampled notice")
    result: Literal["confirmed", "not_confirmed", "no_response"]
    note: str = ""


class ConcludeIn(StrictIn):
    effective: bool
    conclusion: str


class AckIn(StrictIn):
    note: str = ""


class DispositionIn(StrictIn):
    unit: str = Field(description="The unit in any UDI form")
    status: str = Field(description="returned, corrected, destroyed, not_found or used")
    note: str = ""


class DispositionsIn(StrictIn):
    items: list[DispositionIn]


# Outputs ---------------------------------------------------------------------------------------


class CampaignOut(Schema):
    number: str
    title: str
    reason: str
    status: str
    drill: bool
    complaint: str | None
    scope_kind: str
    scope: dict[str, Any]
    frozen_at: datetime | None
    affected_count: int
    cn_level: int | None
    fda_class: str
    eu_fsca: bool
    depth: str
    hhe: dict[str, Any]
    hhe_summary: str
    strategy: str
    classified_at: datetime | None
    approved_at: datetime | None
    approved_by: str | None
    decision_at: datetime | None
    opened_at: datetime | None
    all_notified_at: datetime | None
    all_acknowledged_at: datetime | None
    effectiveness_level: str
    effective: bool | None
    effectiveness_conclusion: str
    closed_at: datetime | None
    close_summary: str
    deadlines: list[dict[str, Any]]
    signatures: list[dict[str, Any]]


class UnitOut(Schema):
    epc: str
    kind: str
    gtin: str
    serial: str
    lot: str
    product_id: int | None
    holder_id: int | None
    holder_gln: str
    holder_name: str
    holder_role: str
    location: str
    disposition: str
    contained_in: str
    installed_in: str
    under_control: bool
    hold: str | None
    notice: str | None
    source: str
    status: str
    reported_at: datetime | None
    rma: str | None
    note: str


class NoticeOut(Schema):
    number: str
    campaign: str
    title: str
    drill: bool
    consignee_id: int
    consignee: str
    language: str
    status: str
    deadline_at: datetime | None
    unit_count: int
    sent_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str
    resolved_at: datetime | None


class NoticeDetailOut(NoticeOut):
    reason: str
    units: list[UnitOut]
    deliveries: list[dict[str, Any]]


class ContactOut(Schema):
    notice: str
    consignee: str
    result: str
    contacted_at: datetime | None
    note: str


class CheckOut(Schema):
    id: int
    level: str
    percent: Decimal | None
    population: int
    planned_count: int
    seed: str
    started_at: datetime
    conclusion: str
    contacts: list[ContactOut]


class ExtendOut(Schema):
    added: list[UnitOut]


class DispositionsOut(Schema):
    notice: NoticeOut
    units: list[UnitOut]


# Helpers ---------------------------------------------------------------------------------------


def _user(request: HttpRequest, *scopes: str) -> User:
    """The caller; a token needs one of ``scopes``."""
    assert isinstance(request.user, User)  # every route is authenticated
    token = getattr(request, "api_token", None)
    if token is not None and not set(scopes) & set(token.scopes):
        require_scope(request, scopes[0])
    return request.user


def _staff(request: HttpRequest, scope: str) -> User:
    user = _user(request, scope)
    if is_partner(user):
        # Campaigns are the maker's documents; a partner's view of a recall is its notices.
        raise NotFound("Not found")
    return user


def _who(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def _campaign(request: HttpRequest, number: str, scope: str) -> tuple[User, RecallCampaign]:
    user = _staff(request, scope)
    return user, campaign_get(number=number, user=user)


def _campaign_out(c: RecallCampaign) -> dict[str, Any]:
    return {
        **{f: getattr(c, f) for f in CampaignOut.model_fields if hasattr(c, f)},
        "complaint": c.complaint.number if c.complaint_id else None,  # type: ignore[union-attr]
        "approved_by": _who(c.approved_by),
        "signatures": [s.as_dict() for s in signatures_for(c)],
    }


def _unit_out(u: AffectedUnit) -> dict[str, Any]:
    return {
        **{f: getattr(u, f) for f in UnitOut.model_fields if f not in ("hold", "notice", "rma")},
        "hold": u.hold.number if u.hold_id else None,  # type: ignore[union-attr]
        "notice": u.notice.number if u.notice_id else None,  # type: ignore[union-attr]
        "rma": u.rma.number if u.rma_id else None,  # type: ignore[union-attr]
    }


def _notice_out(n: RecallNotice) -> dict[str, Any]:
    return {
        "number": n.number,
        "campaign": n.campaign.number,
        "title": n.campaign.title,
        "drill": n.drill,
        "consignee_id": n.consignee_id,
        "consignee": n.consignee.name,
        "language": n.language,
        "status": n.status,
        "deadline_at": n.deadline_at,
        "unit_count": n.unit_count,
        "sent_at": n.sent_at,
        "acknowledged_at": n.acknowledged_at,
        "acknowledged_by": _who(n.acknowledged_by),
        "ack_note": n.ack_note,
        "resolved_at": n.resolved_at,
    }


def _notice_detail(n: RecallNotice) -> dict[str, Any]:
    units = n.units.select_related("hold", "notice", "rma").order_by("id")
    return {
        **_notice_out(n),
        "reason": n.campaign.reason,
        "units": [_unit_out(u) for u in units],
        "deliveries": [
            {"channel": d.channel, "status": d.status, "recipient": d.recipient,
             "attempted_at": d.attempted_at, "detail": d.detail}
            for d in n.deliveries.order_by("id")
        ],
    }  # fmt: skip


def _check_out(check: EffectivenessCheck) -> dict[str, Any]:
    return {
        "id": check.pk,
        "level": check.level,
        "percent": check.percent,
        "population": check.population,
        "planned_count": check.planned_count,
        "seed": check.seed,
        "started_at": check.started_at,
        "conclusion": check.conclusion,
        "contacts": [
            {"notice": c.notice.number, "consignee": c.notice.consignee.name, "result": c.result,
             "contacted_at": c.contacted_at, "note": c.note}
            for c in check.contacts.select_related("notice__consignee").order_by("id")
        ],
    }  # fmt: skip


# Campaigns -------------------------------------------------------------------------------------


@router.get("/recalls", response=list[CampaignOut])
@paginate(Pagination)
def list_recalls(
    request: HttpRequest,
    status: Literal["draft", "open", "closed"] | None = None,
    drill: bool | None = None,
    q: str = "",
) -> list[dict[str, Any]]:
    user = _user(request, READ)
    return [_campaign_out(c) for c in selectors.recall_list(user=user, status=status,
                                                            drill=drill, q=q)]  # fmt: skip


@router.post("/recalls", response={201: CampaignOut})
def open_recall(request: HttpRequest, payload: RecallIn) -> Status:
    """Open a recall (or a drill): the scope is traced and frozen, units in our hands held."""
    user = _staff(request, WRITE)
    campaign = services.recall_open(
        title=payload.title,
        reason=payload.reason,
        kind=payload.kind,
        params=payload.params,
        complaint=payload.complaint,
        drill=payload.drill,
        user=user,
    )
    return Status(201, _campaign_out(campaign))


@router.post("/recalls/preview", response=dict[str, Any])
def preview_recall(request: HttpRequest, payload: ScopeIn) -> dict[str, Any]:
    """What opening a recall with this scope would freeze (nothing is stored)."""
    user = _staff(request, READ)
    return services.recall_scope_preview(kind=payload.kind, params=payload.params, user=user)


@router.get("/recalls/{number}", response=CampaignOut)
def get_recall(request: HttpRequest, number: str) -> dict[str, Any]:
    _caller, campaign = _campaign(request, number, READ)
    return _campaign_out(campaign)


@router.get("/recalls/{number}/units", response=list[UnitOut])
@paginate(Pagination)
def list_units(
    request: HttpRequest,
    number: str,
    holder: str | None = None,
    status: str | None = None,
    notice: str | None = None,
) -> list[dict[str, Any]]:
    """The frozen units; ``holder`` = a GLN, a party id or part of a name."""
    _caller, campaign = _campaign(request, number, READ)
    qs = selectors.units_list(campaign=campaign, holder=holder, status=status, notice=notice)
    return [_unit_out(u) for u in qs]


@router.post("/recalls/{number}/recompute", response=dict[str, Any])
def recompute(request: HttpRequest, number: str) -> dict[str, Any]:
    """How the world moved since the scope froze (the frozen set is not changed)."""
    user, campaign = _campaign(request, number, READ)
    return services.recall_scope_recompute(campaign=campaign, user=user)


@router.post("/recalls/{number}/extend", response=ExtendOut)
def extend(request: HttpRequest, number: str, payload: ExtendIn) -> dict[str, Any]:
    user, campaign = _campaign(request, number, WRITE)
    added = services.recall_scope_extend(
        campaign=campaign, epcs=payload.epcs, reason=payload.reason, user=user
    )
    return {"added": [_unit_out(u) for u in added]}


@router.post("/recalls/{number}/classify", response=CampaignOut)
def classify(request: HttpRequest, number: str, payload: ClassifyIn) -> dict[str, Any]:
    user, campaign = _campaign(request, number, WRITE)
    done = services.recall_classify(
        campaign=campaign,
        cn_level=payload.cn_level,
        fda_class=payload.fda_class,
        eu_fsca=payload.eu_fsca,
        depth=payload.depth,
        hhe=payload.hhe.model_dump(),
        hhe_summary=payload.hhe_summary,
        strategy=payload.strategy,
        effectiveness_level=payload.effectiveness_level,
        user=user,
    )
    return _campaign_out(done)


@router.post("/recalls/{number}/approve", response=CampaignOut)
def approve(request: HttpRequest, number: str, payload: SignIn) -> dict[str, Any]:
    """Approve the classification, e-signed ("approved"): the recall decision."""
    user, campaign = _campaign(request, number, WRITE)
    return _campaign_out(services.recall_approve(campaign=campaign, password=payload.password,
                                                 user=user))  # fmt: skip


@router.post("/recalls/{number}/notices", response={201: list[NoticeOut]})
def create_notices(request: HttpRequest, number: str) -> Status:
    """A notice per consignee holding units not yet on a notice (the notices created or given
    new units)."""
    user, campaign = _campaign(request, number, WRITE)
    notices = services.recall_notices_create(campaign=campaign, user=user)
    return Status(201, [_notice_out(n) for n in notices])


@router.post("/recalls/{number}/notices/send", response=list[NoticeOut])
def send_notices(request: HttpRequest, number: str) -> list[dict[str, Any]]:
    """Send the draft notices (409 before approval); delivery follows the commit."""
    user, campaign = _campaign(request, number, WRITE)
    return [_notice_out(n) for n in services.recall_notices_send(campaign=campaign, user=user)]


@router.get("/recalls/{number}/progress", response=dict[str, Any])
def progress(request: HttpRequest, number: str) -> dict[str, Any]:
    _caller, campaign = _campaign(request, number, READ)
    return selectors.recall_progress(campaign=campaign)


@router.post("/recalls/{number}/effectiveness-checks", response={201: CheckOut})
def start_check(request: HttpRequest, number: str, payload: CheckIn) -> Status:
    user, campaign = _campaign(request, number, WRITE)
    check = services.effectiveness_check_start(
        campaign=campaign, level=payload.level, percent=payload.percent, user=user
    )
    return Status(201, _check_out(check))


@router.post("/recalls/{number}/effectiveness-checks/{check_id}/contacts", response=CheckOut)
def record_contact(
    request: HttpRequest, number: str, check_id: int, payload: ContactIn
) -> dict[str, Any]:
    user, campaign = _campaign(request, number, WRITE)
    check = EffectivenessCheck.objects.filter(campaign=campaign, pk=check_id).first()
    if check is None:
        raise NotFound(f"{number} has no effectiveness check {check_id}", field="check_id")
    services.effectiveness_contact_record(
        check=check, notice=payload.notice, result=payload.result, note=payload.note, user=user
    )
    return _check_out(check)


@router.post("/recalls/{number}/effectiveness", response=CampaignOut)
def conclude(request: HttpRequest, number: str, payload: ConcludeIn) -> dict[str, Any]:
    user, campaign = _campaign(request, number, WRITE)
    done = services.effectiveness_conclude(
        campaign=campaign, effective=payload.effective, conclusion=payload.conclusion, user=user
    )
    return _campaign_out(done)


@router.post("/recalls/{number}/close", response=CampaignOut)
def close(request: HttpRequest, number: str, payload: CloseIn) -> dict[str, Any]:
    """Close, e-signed ("closed"); 409 with ``details.missing`` listing what is missing."""
    user, campaign = _campaign(request, number, WRITE)
    done = services.recall_close(
        campaign=campaign, password=payload.password, summary=payload.summary, user=user
    )
    return _campaign_out(done)


# Notices ---------------------------------------------------------------------------------------


def _notice(request: HttpRequest, number: str, *scopes: str) -> tuple[User, RecallNotice]:
    user = _user(request, *scopes)
    return user, notice_get(number=number, user=user)


@router.get("/recall-notices", response=list[NoticeOut])
@paginate(Pagination)
def list_notices(
    request: HttpRequest, recall: str | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    """Notices: a partner's own (never a drill's); staff all (``recall`` = campaign number)."""
    user = _user(request, READ, ACK)
    qs = selectors.notice_list(user=user, campaign=recall, status=status)
    return [_notice_out(n) for n in qs.select_related("acknowledged_by")]


@router.get("/recall-notices/{number}", response=NoticeDetailOut)
def get_notice(request: HttpRequest, number: str) -> dict[str, Any]:
    _caller, notice = _notice(request, number, READ, ACK)
    return _notice_detail(notice)


@router.post("/recall-notices/{number}/acknowledge", response=NoticeOut)
def acknowledge(request: HttpRequest, number: str, payload: AckIn) -> dict[str, Any]:
    user, notice = _notice(request, number, ACK, WRITE)
    return _notice_out(services.notice_acknowledge(notice=notice, user=user, note=payload.note))


@router.post("/recall-notices/{number}/dispositions", response=DispositionsOut)
def dispositions(request: HttpRequest, number: str, payload: DispositionsIn) -> dict[str, Any]:
    """What became of units on the notice, all or nothing; returned units get one RMA."""
    user, notice = _notice(request, number, ACK, WRITE)
    units = services.unit_dispositions_report(
        notice=notice, items=[i.model_dump() for i in payload.items], user=user
    )
    fresh = notice_get(number=number, user=None)
    return {"notice": _notice_out(fresh), "units": [_unit_out(u) for u in units]}
