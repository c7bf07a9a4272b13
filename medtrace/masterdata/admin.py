"""Admin for master data. Forms run the same model validation as the API (full_clean)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from medtrace.audit.admin import AuditedAdmin

from .models import (
    Bom,
    BomLine,
    Location,
    Material,
    MaterialSupplier,
    Party,
    PartyLicence,
    Product,
    ProductIdentifier,
)


class NoDeleteMixin:
    """Master data referenced by history is deactivated, never deleted."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PartyLicenceInline(NoDeleteMixin, admin.TabularInline):
    model = PartyLicence
    extra = 0


@admin.register(Party)
class PartyAdmin(NoDeleteMixin, AuditedAdmin):
    list_display = ("name", "role", "gln", "city", "active")
    list_filter = ("role", "active", "country")
    search_fields = ("name", "name_en", "gln", "uscc")
    inlines = [PartyLicenceInline]


@admin.register(Location)
class LocationAdmin(NoDeleteMixin, AuditedAdmin):
    list_display = ("code", "name", "kind", "party", "sgln", "active")
    list_filter = ("kind", "active")
    search_fields = ("code", "name", "gln", "sgln")
    readonly_fields = ("sgln",)
    autocomplete_fields = ("party",)


class ProductIdentifierInline(NoDeleteMixin, admin.TabularInline):
    model = ProductIdentifier
    extra = 1


@admin.register(Product)
class ProductAdmin(NoDeleteMixin, AuditedAdmin):
    list_display = ("name", "model", "risk_class", "tracking", "nmpa_registration_no", "active")
    list_filter = ("risk_class", "tracking", "implantable", "sterile", "issuing_agency")
    search_fields = ("name", "name_en", "model", "nmpa_registration_no", "identifiers__di")
    inlines = [ProductIdentifierInline]


class MaterialSupplierInline(NoDeleteMixin, admin.TabularInline):
    model = MaterialSupplier
    extra = 0
    autocomplete_fields = ("supplier",)


@admin.register(Material)
class MaterialAdmin(NoDeleteMixin, AuditedAdmin):
    list_display = ("code", "name", "kind", "tracking", "uom", "critical", "active")
    list_filter = ("kind", "tracking", "critical")
    search_fields = ("code", "name", "name_en", "gtin")
    inlines = [MaterialSupplierInline]


class BomLineInline(NoDeleteMixin, admin.TabularInline):
    model = BomLine
    extra = 0
    autocomplete_fields = ("material",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A released BOM is frozen (change control): a change is a new version.
        if obj is not None and obj.status != "draft":
            return False
        return super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status != "draft":
            return False
        return super().has_add_permission(request, obj)


@admin.register(Bom)
class BomAdmin(NoDeleteMixin, AuditedAdmin):
    list_display = ("product", "version", "status", "effective_from", "released_at")
    list_filter = ("status",)
    readonly_fields = ("status", "released_at")
    inlines = [BomLineInline]
