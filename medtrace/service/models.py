"""Installed base and service. First resident: the implant record (patient-linked, DESIGN §8).

An implant record says which serialized device went into which patient, where and when. It is
the only place patient-identifying data lives: the patient's name, ID number and phone are
encrypted at rest (``EncryptedTextField``), shown masked by default, and revealed only to holders
of ``service.reveal_implantrecord`` with an audited reason. The ledger, EPCIS documents, UDIs,
partner trace views and regulator exports never carry them: they name the unit, never the
patient.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from medtrace.core.fields import EncryptedTextField
from medtrace.lib import personal

PATIENT_FIELDS = ("patient_name", "patient_id_number", "patient_phone")


class ImplantRecord(models.Model):
    """One serialized device implanted in one patient at one hospital."""

    # Patient values never enter the audit trail (only a keyed fingerprint that they changed),
    # and changing a record needs a reason.
    AUDIT_MASKED_FIELDS = PATIENT_FIELDS
    AUDIT_REASON_REQUIRED = True

    id = models.BigAutoField(primary_key=True)
    unit_epc = models.CharField(
        _("unit (EPC)"),
        max_length=512,
        unique=True,
        help_text=_("The implanted unit's EPC URN, as the ledger names it (UnitState.epc)."),
    )
    udi = models.CharField(
        _("UDI"), max_length=512, blank=True, help_text=_("Human-readable UDI of the unit.")
    )
    serial = models.CharField(_("serial number"), max_length=64, blank=True)
    lot = models.CharField(_("lot"), max_length=64, blank=True)
    product = models.ForeignKey(
        "masterdata.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="implant_records",
    )
    hospital = models.ForeignKey(
        "masterdata.Party",
        verbose_name=_("hospital"),
        on_delete=models.PROTECT,
        related_name="implant_records",
        limit_choices_to={"role": "hospital"},
    )
    implanted_on = models.DateField(_("implant date"))
    patient_name = EncryptedTextField(_("patient name"))
    patient_id_number = EncryptedTextField(
        _("patient ID number"),
        help_text=_("Resident ID number (身份证号), passport or other document number."),
    )
    # Keyed HMAC of the normalised ID number: finds a patient's implants without decrypting.
    patient_id_index = models.CharField(max_length=64, db_index=True, editable=False)
    patient_phone = EncryptedTextField(_("patient phone"), blank=True, default="")
    surgeon = models.CharField(_("surgeon"), max_length=100, blank=True)
    department = models.CharField(_("department"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("implant record")
        verbose_name_plural = _("implant records")
        ordering = ["-implanted_on", "-id"]
        # Records are corrected, never deleted: device traceability outlives the treatment.
        default_permissions = ("add", "change", "view")
        permissions = [
            ("reveal_implantrecord", _("Can reveal the patient data of implant records")),
        ]
        indexes = [
            models.Index(fields=["hospital", "implanted_on"], name="implant_hospital_date_idx"),
        ]

    def __str__(self) -> str:
        # Shown in audit entries and logs: the unit, never the patient.
        return f"implant record {self.pk or 'new'} ({self.serial or self.unit_epc})"

    # Masked forms, for every default view.

    @property
    def patient_name_masked(self) -> str:
        return personal.mask_name(self.patient_name)

    @property
    def patient_id_number_masked(self) -> str:
        return personal.mask_id_number(self.patient_id_number)

    @property
    def patient_phone_masked(self) -> str:
        return personal.mask_phone(self.patient_phone)


# The installed base, maintenance, repair tickets and scrap (issue 5 item 6).
from .models_lifecycle import (  # noqa: E402, F401
    InstalledUnit,
    InstallStatus,
    MaintenancePlan,
    MaintenanceVisit,
    PartSwap,
    PlanKind,
    ScrapItem,
    ScrapMethod,
    ScrapRecord,
    ServiceTicket,
    TestResult,
    TicketStatus,
)
