"""The recall notice (召回通知) to one consignee as PDF, in the notice's language.

It names the maker, the recall and why, its classification and depth, the hazard, what the
consignee must do and by when, and the consignee's own affected units (never another
consignee's, never patient data), then how to acknowledge: the partner portal or the API.
"""

from __future__ import annotations

import io
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer

from ..models import RecallDepth, RecallNotice
from . import common as c


def _actions(notice: RecallNotice, deadline: str) -> list[str]:
    campaign = notice.campaign
    steps = [
        _(
            "Stop using, selling and distributing the units listed below at once, and keep them "
            "apart (quarantine) until they are collected or corrected."
        ),
        _("Acknowledge this notice by %(deadline)s, even if you no longer hold any of the units.")
        % {"deadline": deadline or _("return")},
        _(
            "Report for each unit what became of it (returned, corrected on site, destroyed, not "
            "found, used) in the partner portal or through the API."
        ),
    ]
    if campaign.depth in (RecallDepth.RETAIL, RecallDepth.USER):
        steps.append(
            _(
                "If you passed any of these units on (to a hospital, a department or a user), "
                "forward this notice to them at once and tell us who they are."
            )
        )
    return [f"{n}. {text}" for n, text in enumerate(steps, start=1)]


def notice_pdf(notice: RecallNotice) -> bytes:
    """The notice as PDF in ``notice.language`` (zh-hans or en)."""
    campaign = notice.campaign
    consignee = notice.consignee
    units = c.notice_units(notice)
    with translation.override(notice.language or "en"):
        st = c.styles()
        maker = c.maker(campaign)
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=14 * mm,
            rightMargin=14 * mm,
            topMargin=14 * mm,
            bottomMargin=16 * mm,
            title=f"{_('Medical device recall notice')} {notice.number}",
            author=maker.name if maker else "medtrace",
        )
        deadline = c.when(notice.deadline_at)
        story: list[Any] = []
        if notice.drill:
            story.append(
                c.p(_("RECALL DRILL - an exercise only: no action is required"), st.banner)
            )
        story += [
            c.p(_("URGENT: Medical device recall notice"), st.title),
            c.p(
                _("Notice %(number)s · recall %(recall)s · issued %(date)s")
                % {
                    "number": notice.number,
                    "recall": campaign.number,
                    "date": c.when(notice.sent_at or notice.created_at),
                },
                st.small,
            ),
            Spacer(1, 3 * mm),
            c.facts_table(
                [
                    (_("From (manufacturer)"), maker.name if maker else ""),
                    (_("Manufacturer address"), c.address(maker)),
                    (_("Contact for this recall"), c.contact(maker)),
                    (_("To (consignee)"), consignee.name),
                    (_("Consignee address"), c.address(consignee)),
                    (_("Consignee GLN"), consignee.gln),
                ],
                st,
            ),
            c.p(_("The recall"), st.heading),
            c.facts_table(
                [
                    (_("Recall"), f"{campaign.number} · {campaign.title}"),
                    (_("Reason for the recall"), campaign.reason),
                    (_("Classification"), c.classification(campaign)),
                    (_("Recall depth"), c.depth(campaign)),
                    (_("Hazard to health"), c.hazard(campaign)),
                    (_("Acknowledge by"), deadline),
                ],
                st,
            ),
            c.p(_("What you must do"), st.heading),
        ]
        story += [c.p(line, st.body) for line in _actions(notice, deadline)]
        story.append(
            c.p(
                _("Your affected units (%(n)s)") % {"n": len(units)},
                st.heading,
            )
        )
        rows = c.unit_rows(units)
        story += c.paged_table(
            ["#", _("UDI"), _("Product"), _("Lot"), _("Serial"), _("Location")],
            [
                [n, r.udi, r.product, r.lot, r.serial, r.location]
                for n, r in enumerate(rows, start=1)
            ],
            [9, 62, 35, 22, 24, 30],
            st,
        )
        portal = c.absolute(c.portal_path(notice.number))
        story += [
            c.p(_("How to acknowledge"), st.heading),
            c.p(
                _(
                    "In the partner portal: %(portal)s (sign in with your medtrace account). "
                    "Or through the API with a token carrying the scope recall:ack: "
                    "%(api)s, then report each unit's disposition."
                )
                % {"portal": portal, "api": c.acknowledge_api(notice.number)},
                st.body,
            ),
            Spacer(1, 2 * mm),
            c.p(
                _("Please keep this notice with the units' records. Questions: %(contact)s.")
                % {"contact": c.contact(maker) or (maker.name if maker else "")},
                st.small,
            ),
        ]
        footer = c.page_footer(f"{notice.number} · {consignee.name}")
        doc.build(story, onFirstPage=footer, onLaterPages=footer)
        return buffer.getvalue()
