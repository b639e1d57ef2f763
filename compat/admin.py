"""Operator screen: add or override an SMS-Activate code mapping (the shipped tables are in ``compat/data/``)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from compat import selectors, services
from compat.models import CodeMapping
from core.operator_admin import TenantScopedAdmin


@admin.register(CodeMapping)
class CodeMappingAdmin(TenantScopedAdmin):
    """A storefront's staff see and edit their storefront's own mappings; mappings for every storefront (no
    tenant) are the platform's."""

    tenant_staff_permissions = ("view", "change", "add", "delete")
    list_display = ("kind", "code", "our_id_display", "scope", "shipped_display", "note", "updated_at")
    list_filter = ("kind", ("tenant", admin.RelatedOnlyFieldListFilter))
    search_fields = ("code", "our_id", "note")
    list_select_related = ("tenant",)
    fields = ("kind", "code", "our_id", "tenant", "note", "shipped_display")
    readonly_fields = ("shipped_display",)

    @admin.display(description="our id", ordering="our_id")
    def our_id_display(self, obj: CodeMapping) -> str:
        return obj.our_id or "(not offered)"

    @admin.display(description="storefront", ordering="tenant__slug")
    def scope(self, obj: CodeMapping) -> str:
        return obj.tenant.slug if obj.tenant else "every storefront"

    @admin.display(description="shipped mapping")
    def shipped_display(self, obj: CodeMapping | None) -> str:
        if obj is None or not obj.kind or not obj.code:
            return format_html(
                "The shipped tables are <code>{}</code> and <code>{}</code>: a mapping here adds a code or "
                "overrides the shipped one (empty <i>our id</i>: the code is not offered).",
                "compat/data/services.csv",
                "compat/data/countries.csv",
            )
        shipped = selectors.shipped_codes(obj.kind).get(obj.code)
        if shipped is None:
            return "none: this mapping adds a code"
        return f"{shipped.code} → {shipped.our_id} ({shipped.name})"

    def save_through_service(self, request, obj, form, change):
        services.code_mapping_save(mapping=obj)
