"""Operator screens: the synced catalog (categories overridable per service) and the markup rules."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join

from catalog import services
from catalog.categories import ServiceType
from catalog.markup import DEFAULT_TERMS, MarkupTerms
from catalog.models import CatalogSync, Country, MarkupRule, Service
from core.audit import audit_record
from core.operator_admin import ReadOnlyScopedAdmin, TenantScopedAdmin

PREVIEW_COSTS = (1, 5, 10, 20, 50, 99, 100, 260, 500, 1000, 5000)


class EffectiveTypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return ServiceType.choices

    def queryset(self, request, queryset):
        return queryset.filter(Service.q_of_type(self.value())) if self.value() else queryset


@admin.register(Service)
class ServiceAdmin(TenantScopedAdmin):
    tenant_staff_permissions = ("view", "change")
    list_display = (
        "service_id",
        "name",
        "tenant",
        "type_display",
        "auto_type",
        "type_override",
        "is_popular",
        "is_available",
        "updated_at",
    )
    list_editable = ("type_override",)
    list_filter = (EffectiveTypeFilter, "type_override", "is_available", "is_popular")
    search_fields = ("service_id", "name", "alt_name")
    list_select_related = ("tenant",)
    fields = (
        "tenant",
        "service_id",
        "name",
        "alt_name",
        "auto_type",
        "type_override",
        "is_popular",
        "is_available",
        "has_description",
        "has_warning",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "tenant",
        "service_id",
        "name",
        "alt_name",
        "auto_type",
        "is_popular",
        "is_available",
        "has_description",
        "has_warning",
        "created_at",
        "updated_at",
    )

    @admin.display(description="type")
    def type_display(self, obj: Service) -> str:
        return obj.type_label

    def has_add_permission(self, request, *args):
        return False  # services come from the upstream sync only

    def has_delete_permission(self, request, obj=None):
        return False  # a service that disappears upstream is marked unavailable, never deleted

    def save_through_service(self, request, obj, form, change):
        services.service_set_type_override(service=obj, type_override=obj.type_override)


@admin.register(Country)
class CountryAdmin(ReadOnlyScopedAdmin):
    list_display = ("country_id", "name", "tenant", "is_available", "updated_at")
    list_filter = ("is_available",)
    search_fields = ("country_id", "name", "alt_name")
    list_select_related = ("tenant",)
    readonly_fields = ("tenant", "country_id", "name", "alt_name", "codes", "is_available", "created_at", "updated_at")


@admin.register(CatalogSync)
class CatalogSyncAdmin(ReadOnlyScopedAdmin):
    list_display = ("tenant", "kind", "etag", "checked_at", "changed_at", "last_error")
    list_filter = ("kind",)
    readonly_fields = ("tenant", "kind", "etag", "checked_at", "changed_at", "last_error")
    actions = ["sync_now"]

    def has_sync_now_permission(self, request):
        return self.has_view_permission(request)

    @admin.action(description="Sync these tenants' catalogs now", permissions=["sync_now"])
    def sync_now(self, request, queryset):
        tenants = list({state.tenant_id: state.tenant for state in queryset.select_related("tenant")}.values())
        by_slug = {tenant.slug: tenant for tenant in tenants}
        for outcome in services.catalog_sync_all(tenants=tenants):
            summary = outcome.report.summary() if outcome.report else f"{outcome.tenant}: {outcome.error}"
            audit_record(
                actor=request.user,
                action="catalog.sync",
                target=by_slug.get(str(outcome.tenant)),
                after={"result": summary},
            )
            self.message_user(request, summary, messages.SUCCESS if outcome.report else messages.ERROR)


def preview_table(terms: MarkupTerms) -> str:
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((cost, terms.sell(cost), terms.sell(cost) - cost) for cost in PREVIEW_COSTS),
    )
    return format_html(
        "<table><thead><tr><th>backend cost (¢)</th><th>sell price (¢)</th><th>margin (¢)</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        rows,
    )


@admin.register(MarkupRule)
class MarkupRuleAdmin(TenantScopedAdmin):
    tenant_staff_permissions = ("view", "change", "add", "delete")
    list_display = (
        "tenant",
        "scope",
        "percent_bp",
        "fixed_cents",
        "min_margin_cents",
        "rounding",
        "example",
        "updated_at",
    )
    list_filter = ("rounding",)
    search_fields = ("service_id", "country_id", "note")
    list_select_related = ("tenant",)
    fields = (
        "tenant",
        "service_id",
        "country_id",
        "percent_bp",
        "fixed_cents",
        "min_margin_cents",
        "rounding",
        "note",
        "preview",
    )
    readonly_fields = ("preview",)

    @admin.display(description="100 ¢ sells at")
    def example(self, obj: MarkupRule) -> str:
        return f"{obj.terms().sell(100)} ¢"

    @admin.display(description="Preview")
    def preview(self, obj: MarkupRule | None) -> str:
        if obj is None or obj.pk is None:
            return format_html(
                "Save and continue editing to preview this rule. Without any rule a tenant sells at the built-in "
                "default (10 %, at least 1 cent):{}",
                preview_table(DEFAULT_TERMS),
            )
        return preview_table(obj.terms())

    def save_through_service(self, request, obj, form, change):
        try:
            services.markup_rule_save(rule=obj)
        except ValidationError as exc:  # the form validated the same rules; only a race gets here
            raise ValidationError(exc.messages) from exc
