"""The EPCIS 2.0 event ledger (append-only) and its projections (DESIGN §6).

Ledger tables (`Event`, `EventEpc`, `EventQuantity`, `EventBizTransaction`, `EventSourceDest`,
`EventRetraction`) are written once and never updated or deleted: on PostgreSQL a trigger refuses
both (migration 0002). A mistake is corrected by an errorDeclaration, stored as its own
`EventRetraction` row. `UnitState` and `GenealogyEdge` are projections: derived, rebuildable
(`medtrace ledger rebuild`) and therefore allowed to change.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    OBJECT = "ObjectEvent", "ObjectEvent"
    AGGREGATION = "AggregationEvent", "AggregationEvent"
    TRANSFORMATION = "TransformationEvent", "TransformationEvent"
    ASSOCIATION = "AssociationEvent", "AssociationEvent"
    TRANSACTION = "TransactionEvent", "TransactionEvent"


class Action(models.TextChoices):
    ADD = "ADD", "ADD"
    OBSERVE = "OBSERVE", "OBSERVE"
    DELETE = "DELETE", "DELETE"


class CaptureJob(models.Model):
    """One POST /epcis/capture (or /epcis/events) request and its outcome."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    running = models.BooleanField(default=True)
    success = models.BooleanField(default=False)
    error_behaviour = models.CharField(max_length=8, default="rollback")
    event_count = models.PositiveIntegerField(default=0)
    captured_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="capture_jobs",
    )

    class Meta:
        verbose_name = _("capture job")
        verbose_name_plural = _("capture jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.id)


class Event(models.Model):
    """One EPCIS event, as received; never updated (DESIGN §6)."""

    id = models.BigAutoField(primary_key=True)
    event_id = models.CharField(max_length=512, unique=True)
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    action = models.CharField(max_length=8, choices=Action.choices, null=True, blank=True)
    event_time = models.DateTimeField()
    event_time_zone_offset = models.CharField(max_length=6)
    record_time = models.DateTimeField()
    biz_step = models.CharField(max_length=255, null=True, blank=True)
    disposition = models.CharField(max_length=255, null=True, blank=True)
    read_point = models.CharField(max_length=512, null=True, blank=True)
    biz_location = models.CharField(max_length=512, null=True, blank=True)
    capture_job = models.ForeignKey(
        CaptureJob, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    # SHA-256 of the canonical JSON as received: tells an idempotent re-send from a conflicting
    # reuse of the same eventID.
    content_sha256 = models.CharField(max_length=64)
    document = models.JSONField()

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["event_time", "id"], name="event_time_idx"),
            models.Index(fields=["record_time", "id"], name="event_record_time_idx"),
            models.Index(fields=["biz_step", "event_time"], name="event_bizstep_idx"),
            models.Index(fields=["biz_location", "event_time"], name="event_bizloc_idx"),
            models.Index(fields=["read_point", "event_time"], name="event_readpoint_idx"),
        ]

    def __str__(self) -> str:
        return self.event_id


class EpcRole(models.TextChoices):
    EPC = "epc", "epcList"
    PARENT = "parent", "parentID"
    CHILD = "child", "childEPCs"
    INPUT = "input", "inputEPCList"
    OUTPUT = "output", "outputEPCList"


class EventEpc(models.Model):
    """One row per (event, EPC, role): serves the timeline and MATCH_ queries by index alone.

    `epc` is the canonical form (an EPC URN where a GS1 Digital Link could be converted), so a
    unit named either way has one history.
    """

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="epcs")
    epc = models.CharField(max_length=512)
    role = models.CharField(max_length=8, choices=EpcRole.choices)
    event_time = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["epc", "event_time"], name="eventepc_epc_time_idx")]


class QuantityRole(models.TextChoices):
    QUANTITY = "quantity", "quantityList"
    CHILD = "child", "childQuantityList"
    INPUT = "input", "inputQuantityList"
    OUTPUT = "output", "outputQuantityList"


class EventQuantity(models.Model):
    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="quantities")
    epc_class = models.CharField(max_length=512)
    quantity = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    uom = models.CharField(max_length=8, null=True, blank=True)
    role = models.CharField(max_length=8, choices=QuantityRole.choices)
    event_time = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["epc_class", "event_time"], name="eventqty_class_time_idx"),
            models.Index(fields=["epc_class", "role"], name="eventqty_class_role_idx"),
        ]


class EventBizTransaction(models.Model):
    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="biz_transactions")
    type = models.CharField(max_length=255, null=True, blank=True)
    value = models.CharField(max_length=512)

    class Meta:
        indexes = [models.Index(fields=["value"], name="eventbtt_value_idx")]


class SourceDestKind(models.TextChoices):
    SOURCE = "source", "source"
    DESTINATION = "destination", "destination"


class EventSourceDest(models.Model):
    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="source_dests")
    kind = models.CharField(max_length=12, choices=SourceDestKind.choices)
    type = models.CharField(max_length=255)
    value = models.CharField(max_length=512)

    class Meta:
        indexes = [models.Index(fields=["value", "kind"], name="eventsd_value_idx")]


class EventRetraction(models.Model):
    """An errorDeclaration: the event it names no longer counts (DESIGN §6)."""

    id = models.BigAutoField(primary_key=True)
    event = models.OneToOneField(Event, on_delete=models.PROTECT, related_name="retraction")
    declaration_time = models.DateTimeField()
    reason = models.CharField(max_length=255, null=True, blank=True)
    corrective_event_ids = models.JSONField(default=list)
    record_time = models.DateTimeField()
    capture_job = models.ForeignKey(
        CaptureJob, null=True, blank=True, on_delete=models.PROTECT, related_name="retractions"
    )
    document = models.JSONField()


# Projections ----------------------------------------------------------------------------------


class UnitState(models.Model):
    """Current state of one instance-level object (serialized unit, component or container)."""

    epc = models.CharField(max_length=512, primary_key=True)
    product = models.ForeignKey(
        "masterdata.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    gtin = models.CharField(max_length=14, null=True, blank=True)
    serial = models.CharField(max_length=64, null=True, blank=True)
    lot = models.CharField(max_length=64, null=True, blank=True)
    expiry = models.DateField(null=True, blank=True)
    disposition = models.CharField(max_length=255, null=True, blank=True)
    biz_location = models.CharField(max_length=512, null=True, blank=True)
    read_point = models.CharField(max_length=512, null=True, blank=True)
    possessing_party = models.CharField(max_length=512, null=True, blank=True)
    owning_party = models.CharField(max_length=512, null=True, blank=True)
    container = models.CharField(max_length=512, null=True, blank=True)
    installed_in = models.CharField(max_length=512, null=True, blank=True)
    biz_step = models.CharField(max_length=255, null=True, blank=True)
    last_event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+")
    last_event_time = models.DateTimeField()
    first_event_time = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["container"], name="unitstate_container_idx"),
            models.Index(fields=["installed_in"], name="unitstate_installed_idx"),
            models.Index(fields=["gtin", "lot"], name="unitstate_gtin_lot_idx"),
            models.Index(fields=["serial"], name="unitstate_serial_idx"),
            models.Index(fields=["possessing_party"], name="unitstate_possessor_idx"),
        ]


class UnitCustody(models.Model):
    """Projection: every party value that ever held, owned, sent or received an object.

    One row per (EPC or EPC class, party identifier as the ledger spells it): the parties of the
    sourceList and destinationList of every event naming the object (carried down to what was
    packed or installed inside it, as UnitState is), and the bizLocation that became its holder
    when an event names no parties. Partner scoping (``medtrace.accounts.scoping``) reads it
    with one index probe; rows are only added, and ``ledger rebuild`` recomputes them.
    """

    id = models.BigAutoField(primary_key=True)
    epc = models.CharField(max_length=512)
    party = models.CharField(max_length=512)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["epc", "party"], name="unitcustody_epc_party_uniq")
        ]
        indexes = [models.Index(fields=["party", "epc"], name="unitcustody_party_epc_idx")]


class EdgeKind(models.TextChoices):
    TRANSFORMED = "transformed", _("transformed")
    ASSOCIATED = "associated", _("associated")
    AGGREGATED = "aggregated", _("aggregated")


class GenealogyEdge(models.Model):
    """parent contains/was made from child, from valid_from until valid_to (open = current)."""

    id = models.BigAutoField(primary_key=True)
    parent = models.CharField(max_length=512)
    child = models.CharField(max_length=512)
    kind = models.CharField(max_length=12, choices=EdgeKind.choices)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    end_event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["child", "kind"], name="edge_child_idx"),
            models.Index(fields=["parent", "kind"], name="edge_parent_idx"),
            # Current containment (what is inside what now) is read on every capture.
            models.Index(
                fields=["parent"],
                condition=models.Q(valid_to__isnull=True),
                name="edge_open_parent_idx",
            ),
            models.Index(
                fields=["child"],
                condition=models.Q(valid_to__isnull=True),
                name="edge_open_child_idx",
            ),
        ]


from .models_queries import NamedQuery, QuerySubscription  # noqa: E402, F401
