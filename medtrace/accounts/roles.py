"""Department roles and their permissions, defined in code.

The groups are created by a data migration and kept in step by `sync_roles()`. Each role maps to
the Django model permissions it holds; the full matrix (with partner scoping) grows as modules
arrive, and the README table is generated from `ROLE_PERMISSIONS`.
"""

from __future__ import annotations

from django.apps.registry import Apps
from django.db.models import TextChoices
from django.utils.translation import gettext_lazy as _


class Role(TextChoices):
    PROCUREMENT = "procurement", _("Procurement")
    PRODUCTION = "production", _("Production")
    QC = "qc", _("Quality control")
    WAREHOUSE = "warehouse", _("Warehouse")
    SALES = "sales", _("Sales")
    SERVICE = "service", _("Service")
    QA_RA = "qa_ra", _("QA / RA")
    AUDITOR = "auditor", _("Auditor")
    ADMIN = "admin", _("Administrator")


MASTERDATA_MODELS = (
    "party",
    "partylicence",
    "location",
    "product",
    "productidentifier",
    "material",
    "materialsupplier",
    "bom",
    "bomline",
)

# Every department reads the ledger and traces (a recall needs everyone's eyes); writing it
# happens only through the capture services, never through model permissions.
_VIEW_ALL = (
    *(f"masterdata.view_{m}" for m in MASTERDATA_MODELS),
    "ledger.view_event",
    "ledger.view_unitstate",
    "ledger.view_genealogyedge",
    "production.view_serialrule",
    "production.view_allocatedserial",
    "quality.view_hold",
    "quality.view_release",
    "quality.view_inspectionplan",
    "quality.view_inspectionresult",
    "quality.view_nonconformance",
    # The installed base answers "who has each unit now" in a recall: every department reads it.
    "service.view_installedunit",
    "service.view_maintenanceplan",
    "service.view_maintenancevisit",
    "service.view_serviceticket",
    "service.view_scraprecord",
    "distribution.view_salesorder",
    "distribution.view_shipment",
    "distribution.view_returnauthorization",
)


# The audit trail: QA/RA, the auditor and the administrator read all of it (anyone may read the
# history of a record they can see); every department except the auditor may e-sign.
_AUDIT_READ = ("audit.view_auditentry", "audit.view_signature", "audit.view_auditcheckpoint")
_SIGN = ("audit.add_signature",)


def _crud(*models: str) -> tuple[str, ...]:
    return tuple(
        f"masterdata.{action}_{model}" for model in models for action in ("add", "change", "delete")
    )


# Read access to master data is common to every department; write access follows who owns the
# record in a device maker: purchasing owns suppliers and materials, QA/RA owns products and
# registrations, production engineering owns BOMs, logistics owns customers and locations.
# Delete works only on records nothing refers to yet (entered by mistake); the rest are
# deactivated, because history must keep pointing at them.
# Implant records hold patient data (DESIGN §8): service and QA/RA record implants and see them
# masked; revealing the patient's data is a separate permission, and every reveal is audited.
_IMPLANTS = ("service.view_implantrecord", "service.add_implantrecord")
_IMPLANTS_MANAGE = (*_IMPLANTS, "service.change_implantrecord", "service.reveal_implantrecord")
# Serial numbers: QA/RA owns the rules (they are printed on regulated labels, UDI-PI);
# production allocates serials. Allocations are never changed or deleted.
_SERIAL_RULES = ("production.add_serialrule", "production.change_serialrule")
_ALLOCATE = ("production.add_allocatedserial",)
# Holds and release (issue 5, quality): QC and QA/RA hold, lift and release (e-signed);
# warehouse and service may quarantine (a return, a damaged case), not lift or release.
_HOLD = ("quality.add_hold",)
_RELEASE = (*_HOLD, "quality.change_hold", "quality.add_release")
# Quality (issue 5 item 3): anyone who finds a problem may open a nonconformance; QC inspects and
# dispositions; QA/RA owns the inspection plans and alone approves use-as-is concessions.
_NC_OPEN = ("quality.add_nonconformance",)
_INSPECT = (*_NC_OPEN, "quality.add_inspectionresult", "quality.change_nonconformance")
_PLANS = ("quality.add_inspectionplan", "quality.change_inspectionplan")
_CONCESSION = ("quality.approve_concession",)
# Distribution (issue 5 item 5): sales takes orders, ships and authorises returns, and may record
# a customer's receipt on its behalf; the warehouse ships too. Returned goods go straight into
# quarantine, so receiving them is for those who may quarantine (warehouse, service).
_RMA = ("distribution.add_returnauthorization", "distribution.change_returnauthorization")
_RMA_IN = ("distribution.receive_returnauthorization",)
_SHIP = ("distribution.add_shipment",)
_SELL = (
    "distribution.add_salesorder",
    "distribution.change_salesorder",
    *_SHIP,
    "distribution.receive_shipment",
    *_RMA,
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    Role.PROCUREMENT: _VIEW_ALL
    + _SIGN
    + _crud("party", "partylicence", "material", "materialsupplier")
    + _NC_OPEN,
    Role.PRODUCTION: _VIEW_ALL + _SIGN + _crud("bom", "bomline") + _ALLOCATE + _NC_OPEN,
    Role.QC: _VIEW_ALL + _SIGN + _RELEASE + _INSPECT,
    Role.WAREHOUSE: _VIEW_ALL + _SIGN + _crud("location") + _HOLD + _NC_OPEN + _SHIP + _RMA_IN,
    Role.SALES: _VIEW_ALL + _SIGN + _crud("party", "partylicence", "location") + _SELL,
    Role.SERVICE: _VIEW_ALL + _SIGN + _IMPLANTS + _HOLD + _NC_OPEN + _RMA + _RMA_IN,
    Role.QA_RA: _VIEW_ALL
    + _SIGN
    + _AUDIT_READ
    + ("audit.change_signingstate", "alerts.view_alert")
    + _crud("product", "productidentifier", "party", "partylicence", "bom", "bomline")
    + _IMPLANTS_MANAGE
    + _SERIAL_RULES
    + _RELEASE
    + _INSPECT
    + _PLANS
    + _CONCESSION,
    # Read-only everywhere, and the whole audit trail.
    Role.AUDITOR: _VIEW_ALL
    + _AUDIT_READ
    + ("alerts.view_alert", "accounts.view_user", "service.view_implantrecord"),
    Role.ADMIN: _VIEW_ALL
    + _SIGN
    + _AUDIT_READ
    + ("audit.change_signingstate", "alerts.view_alert")
    + _crud(*MASTERDATA_MODELS)
    + ("accounts.view_user", "accounts.add_user", "accounts.change_user")
    + _IMPLANTS_MANAGE
    + _SERIAL_RULES
    + _ALLOCATE
    + _RELEASE
    + _INSPECT
    + _PLANS
    + _SELL
    + _RMA_IN,
}

# Use and service (issue 5 item 6): the service department installs, maintains, repairs and
# scraps (scrap is e-signed); QA/RA sets maintenance and calibration plans and may scrap too.
_SERVICE_WORK = (
    "service.add_installedunit",
    "service.change_installedunit",
    "service.add_maintenancevisit",
    "service.add_serviceticket",
    "service.change_serviceticket",
    "service.add_scraprecord",
)
_SERVICE_PLANS = ("service.add_maintenanceplan", "service.change_maintenanceplan")
for _role, _perms in (
    (Role.SERVICE, _SERVICE_WORK + _SERVICE_PLANS),
    (Role.QA_RA, (*_SERVICE_PLANS, "service.add_scraprecord")),
    (Role.ADMIN, _SERVICE_WORK + _SERVICE_PLANS),
):
    ROLE_PERMISSIONS[_role] += _perms


# Conditions (issue 5 item 7): everyone reads limits, readings and excursions; the departments
# that handle the goods (production, warehouse) and QC/QA record readings; QA/RA owns the
# limits (part of the product's specification, like its label).
_CONDITIONS_VIEW = (
    "conditions.view_conditionprofile",
    "conditions.view_conditionrecord",
    "conditions.view_excursion",
)
_CONDITIONS_RECORD = ("conditions.add_conditionrecord",)
_CONDITIONS_LIMITS = ("conditions.add_conditionprofile", "conditions.change_conditionprofile")
for _role in Role:
    ROLE_PERMISSIONS[_role] += _CONDITIONS_VIEW
    if _role in (Role.PRODUCTION, Role.WAREHOUSE, Role.QC, Role.QA_RA, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _CONDITIONS_RECORD
    if _role in (Role.QA_RA, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _CONDITIONS_LIMITS


# Warehouse (issue 5 item 4): everyone reads stock, containers, pick lists and counts; the
# warehouse moves, packs (SSCC), picks and counts; sales may raise a pick list for an order.
_WAREHOUSE_VIEW = (
    "warehouse.view_container",
    "warehouse.view_stockmove",
    "warehouse.view_picklist",
    "warehouse.view_pick",
    "warehouse.view_stockcount",
)
_WAREHOUSE_WORK = (
    "warehouse.add_stockmove",
    "warehouse.add_container",
    "warehouse.change_container",
    "warehouse.add_picklist",
    "warehouse.change_picklist",
    "warehouse.add_pick",
    "warehouse.add_stockcount",
    "warehouse.change_stockcount",
)
for _role in Role:
    ROLE_PERMISSIONS[_role] += _WAREHOUSE_VIEW
    if _role in (Role.WAREHOUSE, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _WAREHOUSE_WORK
    if _role == Role.SALES:
        ROLE_PERMISSIONS[_role] += ("warehouse.add_picklist",)


# Procurement (issue 5 item 1): everyone reads POs, receipts, supplier lots and incoming
# inspections; procurement orders and receives goods; QC (and QA/RA) inspects incoming material.
# Certificate scans are licence changes (masterdata.change_partylicence).
_PROCUREMENT_VIEW = tuple(
    f"procurement.view_{m}"
    for m in (
        "purchaseorder",
        "purchaseorderline",
        "goodsreceipt",
        "goodsreceiptline",
        "materiallot",
        "incominginspection",
        "materialconsumption",
    )
)
_PURCHASE = (
    "procurement.add_purchaseorder",
    "procurement.change_purchaseorder",
    "procurement.add_goodsreceipt",
)
_IQC = ("procurement.add_incominginspection",)
for _role in Role:
    ROLE_PERMISSIONS[_role] += _PROCUREMENT_VIEW
    if _role in (Role.PROCUREMENT, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _PURCHASE
    if _role in (Role.QC, Role.QA_RA, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _IQC


# Production (issue 5 item 2): everyone reads work orders; production plans, releases,
# commissions, assembles and records process data; the device history record (DHR) is read by
# production, QC, QA/RA and the auditor; QA/RA closes a work order after its DHR review
# (e-signed).
_WORK_ORDER_VIEW = ("production.view_workorder",)
_DHR_READ = (
    "production.view_dhr",
    "production.view_workordercommissioning",
    "production.view_unitcomponent",
    "production.view_processrecord",
)
_PRODUCE = (
    "production.add_workorder",
    "production.change_workorder",
    "production.add_processrecord",
)
for _role in Role:
    ROLE_PERMISSIONS[_role] += _WORK_ORDER_VIEW
    if _role in (Role.PRODUCTION, Role.QC, Role.QA_RA, Role.AUDITOR, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _DHR_READ
    if _role in (Role.PRODUCTION, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _PRODUCE
    if _role in (Role.QA_RA, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += ("production.close_workorder",)


# Webhook subscriptions (issue 6): which partner systems receive signed event POSTs (recall
# notices) and with which secret; the administrator alone sets them up and rotates secrets (the
# auditor reads the list, never a secret).
ROLE_PERMISSIONS[Role.AUDITOR] += ("alerts.view_webhooksubscription",)
ROLE_PERMISSIONS[Role.ADMIN] += (
    "alerts.view_webhooksubscription",
    "alerts.add_webhooksubscription",
    "alerts.change_webhooksubscription",
)


# Alerts (issue 7 item 2): everyone reads the alert rules' settings (why an alert reached them);
# QA/RA and the administrator change them. The administrator inspects and replays the outbox's
# dead letters. Acting on an alert follows whom it is addressed to (alerts/lifecycle.py).
for _role in Role:
    ROLE_PERMISSIONS[_role] += ("alerts.view_alertrule",)
    if _role in (Role.QA_RA, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += ("alerts.change_alertrule",)
ROLE_PERMISSIONS[Role.ADMIN] += ("alerts.change_outboxmessage",)


# Recalls (issue 6 item 4): every department and the auditor read campaigns, affected units,
# notices and effectiveness checks (a recall needs everyone's eyes); QA/RA (and the
# administrator) run them: scope, classification and approval (e-signed), notices,
# effectiveness checks and closure (e-signed). The warehouse and service record what became of
# recalled units (returns received, corrections done) on a consignee's behalf.
_RECALL_VIEW = tuple(
    f"recalls.view_{m}"
    for m in (
        "recallcampaign",
        "affectedunit",
        "recallnotice",
        "noticedelivery",
        "effectivenesscheck",
        "effectivenesscontact",
    )
)
_RECALL_REPORT = ("recalls.report_affectedunit",)
_RECALL_RUN = (
    "recalls.add_recallcampaign",
    "recalls.change_recallcampaign",
    "recalls.approve_recallcampaign",
    "recalls.add_affectedunit",
    "recalls.change_affectedunit",
    "recalls.add_recallnotice",
    "recalls.change_recallnotice",
    "recalls.add_noticedelivery",
    "recalls.add_effectivenesscheck",
    "recalls.change_effectivenesscheck",
    "recalls.add_effectivenesscontact",
    "recalls.change_effectivenesscontact",
    *_RECALL_REPORT,
)
for _role in Role:
    ROLE_PERMISSIONS[_role] += _RECALL_VIEW
    if _role in (Role.QA_RA, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _RECALL_RUN
    if _role in (Role.WAREHOUSE, Role.SERVICE):
        ROLE_PERMISSIONS[_role] += _RECALL_REPORT


# Complaints, adverse events and signals (issue 6 items 1-3): every department and the auditor
# read them; the customer-facing departments (sales, service) take complaints in; QA/RA (and the
# administrator) investigate, decide reportability, link CAPA, close (e-signed), report adverse
# events and set the signal rules. Hospital partners report complaints through partner scoping,
# not through these permissions.
_COMPLAINTS_VIEW = tuple(
    f"complaints.view_{m}"
    for m in (
        "complaint",
        "complaintinvestigation",
        "complaintcomponentlot",
        "adverseevent",
        "adverseeventdeadline",
        "signalrule",
        "complaintsignal",
    )
)
_COMPLAINT_INTAKE = ("complaints.add_complaint",)
_COMPLAINTS_RUN = (
    *_COMPLAINT_INTAKE,
    "complaints.change_complaint",
    "complaints.add_adverseevent",
    "complaints.change_adverseevent",
    "complaints.add_signalrule",
    "complaints.change_signalrule",
)
for _role in Role:
    ROLE_PERMISSIONS[_role] += _COMPLAINTS_VIEW
    if _role in (Role.QA_RA, Role.ADMIN):
        ROLE_PERMISSIONS[_role] += _COMPLAINTS_RUN
    if _role in (Role.SALES, Role.SERVICE):
        ROLE_PERMISSIONS[_role] += _COMPLAINT_INTAKE


# Imports (issue 7 item 4): a master-data import needs the same add permissions as entering the
# records one by one (checked per kind); importing legacy serial histories into the ledger is
# QA/RA's (and the administrator's) data migration. Everyone sees their own import jobs; QA/RA,
# the auditor and the administrator see all of them.
ROLE_PERMISSIONS[Role.QA_RA] += ("imports.import_history", "imports.view_importjob")
ROLE_PERMISSIONS[Role.AUDITOR] += ("imports.view_importjob",)
ROLE_PERMISSIONS[Role.ADMIN] += ("imports.import_history", "imports.view_importjob")


def sync_roles(apps: Apps | None = None, *, verbosity: int = 0) -> None:
    """Create the department groups and set their permissions to exactly ROLE_PERMISSIONS.

    Usable from a data migration (pass the historical ``apps``) and at run time. Permissions
    are created first, because on a fresh database Django only creates them after migrate.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    registry = apps or global_apps
    for app_config in registry.get_app_configs():
        # create_permissions skips app configs without a models module (historical apps).
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True  # type: ignore[assignment]
        try:
            create_permissions(app_config, apps=registry, verbosity=verbosity)
        finally:
            app_config.models_module = original
    Group = registry.get_model("auth", "Group")
    Permission = registry.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=str(role))
        perms = []
        for full in codenames:
            app_label, codename = full.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is None:
                if apps is not None:
                    # A data migration runs before later apps' tables exist; the post_migrate
                    # sync completes the matrix once every app is migrated.
                    continue
                raise RuntimeError(f"Role {role}: permission {full} does not exist")
            perms.append(perm)
        group.permissions.set(perms)
