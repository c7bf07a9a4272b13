"""Admin: changes made in the Django admin are audited like any other; the trail is read-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import services as audit
from .models import AuditCheckpoint, AuditEntry, Signature


class AuditedAdmin(admin.ModelAdmin):
    """Writes an AuditEntry for every add, change and delete made through this admin page
    (inline rows included), with the reason typed into the form's "reason for change" field.
    The reason is required when the record, or one of its inlines, is a regulated record."""

    def _reason_required(self, obj: Any) -> bool:
        if obj is None:
            return False
        models_ = [self.model, *(inline.model for inline in self.inlines)]
        return any(audit.requires_reason(m) for m in models_)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        fields = kwargs.get("fields")
        if fields:
            kwargs["fields"] = [f for f in fields if f != "change_reason"]
        base = super().get_form(request, obj, change=change, **kwargs)
        required = self._reason_required(obj)

        class AuditedForm(base):  # type: ignore[valid-type,misc]
            change_reason = forms.CharField(
                label=_("Reason for change"),
                required=required,
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text=_("Recorded in the audit trail with the old and new values."),
            )

        return AuditedForm

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        named = {f for _name, opts in fieldsets for f in opts.get("fields", ())}
        if "change_reason" in named:
            return fieldsets
        return [*fieldsets, (_("Audit trail"), {"fields": ("change_reason",)})]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = None
        if change and obj.pk is not None:
            stored = type(obj)._default_manager.filter(pk=obj.pk).first()
            before = audit.snapshot(stored) if stored is not None else None
        request._audit_before = before  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        befores: dict[tuple[str, Any], dict[str, Any]] = {}
        for formset in formsets:
            for inline_form in formset.initial_forms:
                instance = inline_form.instance
                if instance.pk is not None:
                    stored = type(instance)._default_manager.filter(pk=instance.pk).first()
                    if stored is not None:
                        befores[(audit.label_of(instance), instance.pk)] = audit.snapshot(stored)
        super().save_related(request, form, formsets, change)
        reason = form.cleaned_data.get("change_reason", "")
        obj = form.instance
        before = getattr(request, "_audit_before", None)
        if change and before is not None:
            audit.record_update(obj, before, user=request.user, reason=reason)
        else:
            audit.record_create(obj, user=request.user, reason=reason)
        for formset in formsets:
            for new in formset.new_objects:
                audit.record_create(new, user=request.user, reason=reason)
            for changed, _fields in formset.changed_objects:
                key = (audit.label_of(changed), changed.pk)
                audit.record_update(changed, befores.get(key, {}), user=request.user, reason=reason)
            for gone in formset.deleted_objects:
                key = (audit.label_of(gone), gone.pk)
                audit.record_delete(
                    gone, befores.get(key, {}), object_id=key[1], user=request.user, reason=reason
                )

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        """The admin's own history only knows admin edits; the audit trail knows every change."""
        label = self.model._meta.label_lower
        return redirect(reverse("web:record", args=[label, object_id]))

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        before, pk = audit.snapshot(obj), obj.pk
        super().delete_model(request, obj)
        audit.record_delete(obj, before, object_id=pk, user=request.user)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_name", "source", "action", "object_type", "object_repr")
    list_filter = ("action", "source", "object_type")
    search_fields = ("object_id", "object_repr", "actor_name", "request_id", "reason")
    ordering = ("-seq",)


@admin.register(Signature)
class SignatureAdmin(ReadOnlyAdmin):
    list_display = ("signed_at", "printed_name", "meaning", "object_type", "object_repr")
    list_filter = ("meaning", "object_type")


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "hash", "created_by")
