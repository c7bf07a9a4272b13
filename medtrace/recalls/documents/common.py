"""What the recall documents share: PDF styles, formatting, and the facts read from a campaign.

Everything here reads the recall's own rows (campaign, frozen units, notices) and master data.
No document ever reads implant records: patient data never goes into a notice or a report to a
regulator (DESIGN §8). A unit is named by its UDI, product, lot, serial and where it was; the
``installed_in`` and ``contained_in`` links name other devices, never people.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from medtrace.audit.pdf import _font
from medtrace.errors import ValidationFailed
from medtrace.lib import udi
from medtrace.lib.udi.gs1 import render_hri
from medtrace.masterdata.models import LicenceKind, Location, Party, Product

from ..models import (
    AffectedUnit,
    CnLevel,
    EffectivenessLevel,
    FdaClass,
    RecallCampaign,
    RecallDepth,
    RecallNotice,
    UnitStatus,
)

# One table per this many rows: reportlab lays out a huge table in one pass (slow, memory), and
# a chunk still repeats its header row on every page it spans.
CHUNK = 250


# PDF styles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    title: ParagraphStyle
    heading: ParagraphStyle
    banner: ParagraphStyle
    grid: TableStyle
    facts: TableStyle


def styles() -> Styles:
    font = _font()  # reportlab's built-in CID font STSong-Light prints Chinese (DESIGN §2)
    return Styles(
        body=ParagraphStyle("body", fontName=font, fontSize=9, leading=12),
        small=ParagraphStyle("small", fontName=font, fontSize=7.5, leading=9.5),
        title=ParagraphStyle("title", fontName=font, fontSize=16, leading=20, spaceAfter=4),
        heading=ParagraphStyle("h2", fontName=font, fontSize=11.5, leading=15, spaceBefore=8),
        banner=ParagraphStyle(
            "banner",
            fontName=font,
            fontSize=12,
            leading=16,
            textColor=colors.white,
            backColor=colors.HexColor("#b3261e"),
            borderPadding=4,
            spaceAfter=6,
        ),
        grid=TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        ),
        facts=TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        ),
    )


def p(text: Any, style: ParagraphStyle) -> Paragraph:
    shown = "—" if text in (None, "") else str(text)
    return Paragraph(escape(shown).replace("\n", "<br/>"), style)


def facts_table(rows: Sequence[tuple[str, Any]], st: Styles, label_mm: float = 52) -> Table:
    return Table(
        [[p(k, st.body), p(v, st.body)] for k, v in rows],
        colWidths=[label_mm * mm, (182 - label_mm) * mm],
        style=st.facts,
    )


def paged_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    widths_mm: Sequence[float],
    st: Styles,
) -> list[Flowable]:
    """A long list as tables of ``CHUNK`` rows, each repeating the header on every page."""
    out: list[Flowable] = []
    head = [p(h, st.body) for h in headers]
    for start in range(0, max(len(rows), 1), CHUNK):
        chunk = rows[start : start + CHUNK]
        data = [head] + [[p(v, st.small) for v in row] for row in chunk]
        out.append(Table(data, colWidths=[w * mm for w in widths_mm], style=st.grid, repeatRows=1))
    return out


def page_footer(text: str) -> Any:
    """An onPage callback printing ``text`` and the page number at the foot of every page."""

    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_font(), 7)
        canvas.drawString(14 * mm, 8 * mm, text)
        canvas.drawRightString(196 * mm, 8 * mm, _("Page %(n)s") % {"n": doc.page})
        canvas.restoreState()

    return draw


# Formatting ------------------------------------------------------------------------------------


def when(value: datetime | str | None) -> str:
    """A time as the reader's local time with its UTC offset, e.g. 2026-03-05 09:30 (UTC+08:00)."""
    if value in (None, ""):
        return ""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = timezone.localtime(parsed)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def day(value: datetime | None) -> str:
    return "" if value is None else f"{timezone.localtime(value):%Y-%m-%d}"


def yes_no(value: bool | None) -> str:
    if value is None:
        return _("not concluded")
    return _("yes") if value else _("no")


def cn_level(campaign: RecallCampaign) -> str:
    return str(CnLevel(campaign.cn_level).label) if campaign.cn_level else ""


def fda_class(campaign: RecallCampaign) -> str:
    return str(FdaClass(campaign.fda_class).label) if campaign.fda_class else ""


def depth(campaign: RecallCampaign) -> str:
    return str(RecallDepth(campaign.depth).label) if campaign.depth else ""


def effectiveness_level(campaign: RecallCampaign) -> str:
    level = campaign.effectiveness_level
    return str(EffectivenessLevel(level).label) if level else ""


def classification(campaign: RecallCampaign) -> str:
    """NMPA level, FDA class and EU FSCA on one line, as far as they apply."""
    parts = []
    if campaign.cn_level:
        parts.append(_("NMPA recall %(level)s") % {"level": cn_level(campaign)})
    if campaign.fda_class:
        parts.append(_("FDA %(cls)s") % {"cls": fda_class(campaign)})
    if campaign.eu_fsca:
        parts.append(_("EU field safety corrective action (FSCA)"))
    return "; ".join(parts) or _("not classified yet")


def hazard(campaign: RecallCampaign) -> str:
    """The health hazard as the consignee and the regulator read it."""
    hhe = campaign.hhe or {}
    return campaign.hhe_summary or str(hhe.get("hazard", ""))


def hhe_lines(campaign: RecallCampaign) -> str:
    hhe = campaign.hhe or {}
    labels = (
        ("hazard", _("Hazard")),
        ("severity", _("Severity")),
        ("probability", _("Probability")),
        ("population", _("Population at risk")),
    )
    lines = [f"{label}: {hhe[key]}" for key, label in labels if hhe.get(key)]
    if campaign.hhe_summary:
        lines.insert(0, campaign.hhe_summary)
    return "\n".join(lines)


def hri(unit: AffectedUnit) -> str:
    """The unit's UDI as people read it: (01) GTIN, (10) lot, (21) serial; HIBC as printed."""
    if unit.gtin:
        elements = [("01", unit.gtin)]
        if unit.lot:
            elements.append(("10", unit.lot))
        if unit.serial:
            elements.append(("21", unit.serial))
        return render_hri(elements)
    try:
        return udi.parse(unit.epc).hri()
    except (udi.UdiError, ValueError):
        return unit.epc


def product_name(product: Product | None) -> str:
    if product is None:
        return ""
    return f"{product.name} {product.model}".strip()


def portal_path(number: str) -> str:
    return f"/recalls/portal/notices/{number}/"


def absolute(path: str) -> str:
    """``path`` under MEDTRACE_PUBLIC_URL when it is set (e-mails and PDFs leave the site)."""
    return f"{settings.PUBLIC_URL}{path}" if settings.PUBLIC_URL else path


def acknowledge_api(number: str) -> str:
    return f"POST /api/v1/recall-notices/{number}/acknowledge"


# Facts from the database -----------------------------------------------------------------------


def maker(campaign: RecallCampaign) -> Party | None:
    """Our own company (the maker), else the manufacturer of the recalled products."""
    from medtrace.lifecycle.services import own_party

    try:
        return own_party()
    except ValidationFailed:
        product = Product.objects.filter(
            pk__in=AffectedUnit.objects.filter(campaign=campaign).values("product_id")
        ).first()
        return product.manufacturer if product is not None else None


def address(party: Party | None) -> str:
    if party is None:
        return ""
    parts = [party.province, party.city, party.address, party.postal_code]
    text = " ".join(x for x in parts if x)
    return f"{text} ({party.country})" if party.country and party.country != "CN" else text


def contact(party: Party | None) -> str:
    if party is None:
        return ""
    return " · ".join(
        x for x in (party.contact_name, party.contact_phone, party.contact_email) if x
    )


def licence_number(party: Party | None, *kinds: str) -> str:
    if party is None:
        return ""
    licence = party.licences.filter(kind__in=kinds).order_by("-issued_on", "-pk").first()
    return licence.number if licence else ""


def production_licence(party: Party | None) -> str:
    return licence_number(party, LicenceKind.PRODUCTION, LicenceKind.PRODUCTION_FILING)


def location_names(locations: Iterable[str]) -> dict[str, str]:
    """SGLN -> "name (GLN)" for the locations known in master data."""
    wanted = {loc for loc in locations if loc}
    if not wanted:
        return {}
    return {
        loc.sgln: f"{loc.name}"
        for loc in Location.objects.filter(sgln__in=wanted).only("sgln", "name")
    }


@dataclass(frozen=True)
class UnitRow:
    udi: str
    product: str
    lot: str
    serial: str
    location: str
    holder: str
    status: str
    kind: str


def unit_rows(units: Iterable[AffectedUnit]) -> list[UnitRow]:
    """Rows for a units table; never more than the unit's own identification and place."""
    units = list(units)
    places = location_names(u.location for u in units)
    return [
        UnitRow(
            udi=hri(u),
            product=product_name(u.product),
            lot=u.lot,
            serial=u.serial,
            location=places.get(u.location, u.location),
            holder=u.holder_name,
            status=str(UnitStatus(u.status).label),
            kind=u.get_kind_display(),
        )
        for u in units
    ]


def campaign_units(campaign: RecallCampaign) -> list[AffectedUnit]:
    return list(
        AffectedUnit.objects.filter(campaign=campaign)
        .select_related("product")
        .order_by("holder_name", "id")
    )


def notice_units(notice: RecallNotice) -> list[AffectedUnit]:
    """Exactly the units on this consignee's notice (no other consignee's)."""
    return list(
        AffectedUnit.objects.filter(notice=notice, campaign_id=notice.campaign_id)
        .select_related("product")
        .order_by("id")
    )


@dataclass
class ProductFacts:
    product: Product
    di: str
    lots: list[str] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)
    count: int = 0


def products(campaign: RecallCampaign) -> list[ProductFacts]:
    """The recalled products with their DI, lots, serials and unit counts."""
    rows = (
        AffectedUnit.objects.filter(campaign=campaign, product__isnull=False)
        .order_by("product_id", "lot", "serial")
        .values_list("product_id", "gtin", "lot", "serial")
    )
    found: dict[int, ProductFacts] = {}
    catalogue = Product.objects.in_bulk(
        list(
            AffectedUnit.objects.filter(campaign=campaign, product__isnull=False)
            .values_list("product_id", flat=True)
            .distinct()
        )
    )
    for product_id, gtin, lot, serial in rows:
        facts = found.get(product_id)
        if facts is None:
            product = catalogue[product_id]
            base = product.base_identifier()
            facts = found[product_id] = ProductFacts(product, base.di if base else gtin)
        facts.count += 1
        if lot and lot not in facts.lots:
            facts.lots.append(lot)
        if serial:
            facts.serials.append(serial)
    return list(found.values())


def listing(values: Sequence[str], limit: int = 30) -> str:
    if not values:
        return ""
    if len(values) <= limit:
        return ", ".join(values)
    return _("%(first)s … (%(n)s in all; see the units list)") % {
        "first": ", ".join(values[:limit]),
        "n": len(values),
    }


@dataclass(frozen=True)
class ConsigneeRow:
    party: Party | None
    name: str
    gln: str
    role: str
    address: str
    phone: str
    notice: RecallNotice | None
    units: int
    counts: dict[str, int]


def consignees(campaign: RecallCampaign) -> list[ConsigneeRow]:
    """Each party outside us that held affected units when the scope froze, with its notice and
    what became of its units."""
    status_counts = {
        s: Count("pk", filter=Q(status=s)) for s in UnitStatus.values
    }  # one query: per holder, a count per status
    grouped = (
        AffectedUnit.objects.filter(campaign=campaign, under_control=False)
        .values("holder_id", "holder_name", "holder_gln", "holder_role")
        .annotate(total=Count("pk"), **status_counts)
        .order_by("holder_name", "holder_id")
    )
    parties = Party.objects.in_bulk([g["holder_id"] for g in grouped if g["holder_id"]])
    notices = {n.consignee_id: n for n in campaign.notices.all()}
    out = []
    for g in grouped:
        party = parties.get(g["holder_id"])
        out.append(
            ConsigneeRow(
                party=party,
                name=g["holder_name"] or (party.name if party else ""),
                gln=g["holder_gln"],
                role=g["holder_role"],
                address=address(party),
                phone=party.contact_phone if party else "",
                notice=notices.get(g["holder_id"]),
                units=g["total"],
                counts={s: g[s] for s in UnitStatus.values},
            )
        )
    return out


def regions(rows: Sequence[ConsigneeRow]) -> str:
    by_place: dict[str, int] = defaultdict(int)
    for row in rows:
        party = row.party
        if party is None:
            continue
        place = " ".join(x for x in (party.province, party.city) if x) or party.country
        by_place[place] += row.units
    return "; ".join(f"{place} ({n})" for place, n in sorted(by_place.items()))


def distribution_dates(campaign: RecallCampaign) -> tuple[datetime | None, datetime | None]:
    """First and last shipment of an affected unit (the distribution app's shipments)."""
    from medtrace.distribution.models import ShipmentItem

    found = ShipmentItem.objects.filter(
        epc__in=AffectedUnit.objects.filter(campaign=campaign).values("epc")
    ).aggregate(first=Min("shipment__shipped_at"), last=Max("shipment__shipped_at"))
    return found["first"], found["last"]


def status_totals(campaign: RecallCampaign) -> dict[str, int]:
    counts = dict(
        AffectedUnit.objects.filter(campaign=campaign)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {s: counts.get(s, 0) for s in UnitStatus.values}


def deadline(campaign: RecallCampaign, key: str) -> str:
    for d in campaign.deadlines or []:
        if d.get("key") == key:
            return when(d.get("due"))
    return ""


def adverse_event_numbers(campaign: RecallCampaign) -> list[str]:
    """The adverse event (MDR / vigilance) of the complaint that led to the recall, with the
    regulator's references of its submitted reports."""
    complaint = campaign.complaint
    if complaint is None:
        return []
    # A missing reverse one-to-one raises an AttributeError subclass: getattr's default applies.
    event = getattr(complaint, "adverse_event", None)
    if event is None:
        return []
    out = [event.number]
    for d in event.deadlines.exclude(reference="").order_by("due_at"):
        out.append(f"{d.get_jurisdiction_display()}: {d.reference}")
    return out
