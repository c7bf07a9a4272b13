"""Rule ``maintenance_due``: preventive maintenance or calibration of installed units that falls
due within the rule's ``threshold`` days (a warning) or is overdue (critical, with
``params["overdue"]``).

Periodic (``rule:maintenance_due``, every 6 hours). The due dates come from the service app's
own due list (``service.selectors.maintenance_due``: one query pairs every installed unit with
the plans covering it and its latest visit, whatever the size of the installed base), so the
alert and the engineers' due list never disagree.

One alert per plan, hospital, due date and level: the ten pumps of one ward installed together
and due together make one alert listing them. Each occurrence alerts once
(``rules_support.fire_new``); a unit that becomes overdue alerts again as overdue, and a visit
moves the next due date, so the next cycle is a new alert.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from . import rules, schedule
from .models import AlertRuleKind, AlertSeverity
from .rules_support import Finding, fire_new, key, listed, summary

KIND = AlertRuleKind.MAINTENANCE_DUE
EVERY = timedelta(hours=6)
MAX_LISTED = 50
DUE = "due"
OVERDUE = "overdue"


def maintenance_due_evaluate(*, today: date | None = None) -> str:
    """Raise the maintenance and calibration alerts due ``today``."""
    from medtrace.service.selectors import maintenance_due

    config = rules.rule(KIND)
    if not config.enabled:
        return f"{KIND}: disabled"
    today = today or timezone.localdate()
    alert_overdue = bool(config.params.get("overdue", True))
    groups: dict[tuple[int, int, date, str], list[Any]] = defaultdict(list)
    for due in maintenance_due(within_days=int(config.threshold or 0), today=today):
        level = OVERDUE if due.overdue and alert_overdue else DUE
        groups[(due.plan.pk, due.installation.hospital_id, due.due_on, level)].append(due)
    findings = []
    for (plan_id, hospital_id, due_on, level), dues in sorted(
        groups.items(), key=lambda item: (item[0][2], item[0][0], item[0][1], item[0][3])
    ):
        plan = dues[0].plan
        hospital = dues[0].installation.hospital
        serials = sorted(d.installation.serial or d.installation.unit_epc for d in dues)
        values = {
            "kind": capfirst(str(plan.get_kind_display())),
            "plan": f"{plan.number} {plan.name}",
            "count": len(dues),
            "hospital": hospital.name,
            "due": due_on.isoformat(),
            "days": abs((due_on - today).days),
            "units": listed(serials),
        }
        if level == OVERDUE:
            title = _("%(kind)s overdue: %(count)s units at %(hospital)s (due %(due)s)") % values
            message = (
                _(
                    "%(kind)s under plan %(plan)s of %(count)s units at %(hospital)s was due on "
                    "%(due)s, %(days)s days ago: %(units)s."
                )
                % values
            )
            severity: str | None = AlertSeverity.CRITICAL
        else:
            title = _("%(kind)s due: %(count)s units at %(hospital)s on %(due)s") % values
            message = (
                _(
                    "%(kind)s under plan %(plan)s of %(count)s units at %(hospital)s is due on "
                    "%(due)s: %(units)s."
                )
                % values
            )
            severity = None
        findings.append(
            Finding(
                key=key("plan", plan_id, "hospital", hospital_id, due_on.isoformat(), level),
                title=title,
                message=message,
                evidence={
                    "level": level,
                    "plan": {
                        "id": plan_id,
                        "number": plan.number,
                        "name": plan.name,
                        "kind": plan.kind,
                        "interval_days": plan.interval_days,
                    },
                    "hospital": {"id": hospital_id, "name": hospital.name},
                    "due_on": due_on.isoformat(),
                    "days_overdue": (today - due_on).days,
                    "count": len(dues),
                    "units": [
                        {
                            "installation": d.installation.number,
                            "serial": d.installation.serial or None,
                            "epc": d.installation.unit_epc,
                            "department": d.installation.department.name,
                            "last_visit": d.last_visit.number if d.last_visit else None,
                        }
                        for d in sorted(dues, key=lambda d: d.installation.serial)[:MAX_LISTED]
                    ],
                },
                object_type="service.maintenanceplan",
                object_id=str(plan_id),
                severity=severity,
            )
        )
    return summary(KIND, fire_new(KIND, findings), len(findings))


@schedule.periodic(f"rule:{KIND}", every=EVERY)
def _job() -> str:
    return maintenance_due_evaluate()
