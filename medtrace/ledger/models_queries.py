"""Named EPCIS queries and their webhook subscriptions (EPCIS 2.0 §8.2.5, REST /queries).

These are not ledger rows: a client may delete them, so they are outside the append-only
triggers of migration 0002.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NamedQuery(models.Model):
    """A stored SimpleEventQuery: ``query`` is the JSON object of rest/query-schema.json."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    query = models.JSONField(_("query"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="epcis_queries",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("named EPCIS query")
        verbose_name_plural = _("named EPCIS queries")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class QuerySubscription(models.Model):
    """A webhook subscription: the worker POSTs each new result of ``query`` to ``dest``
    (``epcis_push``).

    Either ``stream`` (report as events arrive) or a cron-like ``schedule`` is set, never both
    (REST binding, QueryStreamSubscription / QueryScheduleSubscription); a scheduled one next
    runs at ``next_run_at``. The delivery position is the keyset (``last_record_time``,
    ``last_event_pk``): events recorded in the same capture share a recordTime, so the time
    alone cannot mark where a batch ended.
    """

    # The HMAC secret the receiver verifies with never enters the audit trail.
    AUDIT_MASKED_FIELDS = ("signature_token",)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    query = models.ForeignKey(NamedQuery, on_delete=models.CASCADE, related_name="subscriptions")
    dest = models.URLField(_("destination URL"), max_length=2000)
    # The client's shared secret for the GS1-Signature HMAC; never returned by the API.
    signature_token = models.CharField(max_length=512, blank=True)
    stream = models.BooleanField(default=False)
    schedule = models.JSONField(null=True, blank=True)
    report_if_empty = models.BooleanField(default=False)
    initial_record_time = models.DateTimeField()
    last_record_time = models.DateTimeField()
    last_event_pk = models.BigIntegerField(null=True, blank=True)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    # The next query time of the schedule (epcis_push_schedule.next_run); None for a stream.
    next_run_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="epcis_subscriptions",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("EPCIS query subscription")
        verbose_name_plural = _("EPCIS query subscriptions")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(stream=True) & Q(schedule__isnull=True))
                | (Q(stream=False) & Q(schedule__isnull=False)),
                name="querysubscription_stream_xor_schedule",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.query_id} -> {self.dest}"
