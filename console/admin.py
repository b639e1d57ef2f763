"""The console's own screens and the composite ones built over several apps.

- the audit log (read-only, scoped) and the alerts;
- the tenant settings page (accounts) with "Test connection", which asks the supplier for the balance;
- the user page (accounts) with the wallet, the 24 h success rate and the user's activations;
- markup rules (catalog) with a live preview over the tenant's top services and countries;
- django-celery-beat's schedules, editable by platform superusers only, audited.
"""

from __future__ import annotations

from datetime import timedelta

from axes import admin as axes_admins
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from unfold.decorators import action

from accounts.admin import TenantAdmin, UserAdmin
from accounts.models import Tenant, User
from activations import selectors as activation_selectors
from catalog import selectors as catalog_selectors
from catalog.admin import MarkupRuleAdmin
from catalog.markup import MarkupTerms, Rounding
from catalog.models import MarkupRule
from console.models import Alert
from console.supplier import supplier_balance
from core.audit import audit_record
from core.models import AuditEntry
from core.operator_admin import ReadOnlyScopedAdmin, TenantScopedAdmin, is_tenant_staff, operator_tenant_id
from wallet import selectors as wallet_selectors
from wallet import services as wallet_services

PREVIEW_DAYS = 30


class TenantIdFilter(admin.SimpleListFilter):
    """The tenant filter of screens that keep a plain tenant id (the audit log)."""

    title = "tenant"
    parameter_name = "tenant_id"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Tenant.objects.order_by("slug").values_list("pk", "name")]

    def queryset(self, request, queryset):
        return queryset.filter(tenant_id=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyScopedAdmin):
    tenant_lookup = "tenant_id"
    list_display = ("created_at", "actor_label", "action", "target_type", "target_label", "reason")
    list_filter = ("action", "target_type")
    search_fields = ("actor_label", "target_label", "reason", "action", "=target_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "actor_label",
        "tenant_id",
        "action",
        "target_type",
        "target_id",
        "target_label",
        "reason",
        "before",
        "after",
    )
    fields = readonly_fields

    def tenant_filter_path(self):
        return None

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        return filters if is_tenant_staff(request) else [TenantIdFilter, *filters]


@admin.register(Alert)
class AlertAdmin(ReadOnlyScopedAdmin):
    list_display = ("opened_at", "tenant", "kind", "message", "last_seen_at", "resolved_at", "notified_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("message",)
    list_select_related = ("tenant",)
    readonly_fields = (
        "tenant",
        "kind",
        "message",
        "details",
        "opened_at",
        "last_seen_at",
        "resolved_at",
        "notified_at",
        "notified_to",
    )


# --- the tenant settings page, with "Test connection" -------------------------------------------------


admin.site.unregister(Tenant)


@admin.register(Tenant)
class ConsoleTenantAdmin(TenantAdmin):
    actions_detail = ["test_connection"]

    def has_test_connection_permission(self, request, object_id=None):
        return self.has_view_permission(request)

    @action(description="Test connection", url_path="test-connection", icon="cable", permissions=["test_connection"])
    def test_connection(self, request, object_id):
        tenant = self.get_object(request, object_id)
        if tenant is None:
            raise Http404("No such tenant.")
        result = supplier_balance(tenant, fresh=True)
        if result.ok:
            self.message_user(
                request,
                f"Connected to the supplier: balance {result.total_cents} cents, {result.reserved_cents} reserved "
                f"({result.available_cents} available).",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, f"The supplier could not be reached: {result.error}", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:accounts_tenant_change", args=[tenant.pk]))


# --- the user page: wallet, success rate, activations, keys ----------------------------------------------


admin.site.unregister(User)


@admin.register(User)
class ConsoleUserAdmin(UserAdmin):
    """A storefront user as an operator needs them: wallet (with credit/debit), 24 h SMS success rate (their
    share of the supplier account's, whose block line is 7 %), their activations and API keys."""

    list_display = (*UserAdmin.list_display, "success_rate_24h")
    actions_detail = ["wallet", "activations"]

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(**activation_selectors.success_rate_counts(prefix="activations__"))
        )

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and obj.tenant_id is not None:
            fieldsets.insert(1, ("Wallet and activity", {"fields": ["wallet_summary", "success_rate_24h"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), "wallet_summary", "success_rate_24h"]
        return readonly

    @admin.display(description="SMS success (24 h)")
    def success_rate_24h(self, obj) -> str:
        if getattr(obj, "finished_24h", None) is None:
            finished, succeeded = activation_selectors.user_success_rate(user=obj)
        else:
            finished, succeeded = obj.finished_24h, obj.succeeded_24h
        if not finished:
            return "—"
        return f"{100 * succeeded // finished} % of {finished}"

    @admin.display(description="Wallet")
    def wallet_summary(self, obj) -> str:
        summary = wallet_selectors.wallet_summary(user=obj)
        return f"balance {summary.balance_cents} ¢, held {summary.held_cents} ¢, available {summary.available_cents} ¢"

    def has_wallet_permission(self, request, object_id=None):
        return self.has_view_permission(request)

    has_activations_permission = has_wallet_permission

    @action(
        description="Wallet: statement, credit or debit",
        url_path="wallet",
        icon="account_balance_wallet",
        permissions=["wallet"],
    )
    def wallet(self, request, object_id):
        user = self.get_object(request, object_id)
        if user is None or user.tenant_id is None:
            raise Http404("No such user wallet.")
        # A user who never had money has no wallet row yet: create the empty wallet (no money moves) so that the
        # operator can credit it.
        account = wallet_services.user_wallet_get_or_create(user=user)
        return HttpResponseRedirect(reverse("admin:wallet_account_change", args=[account.pk]))

    @action(description="Activations", url_path="activations", icon="sms", permissions=["activations"])
    def activations(self, request, object_id):
        user = self.get_object(request, object_id)
        if user is None:
            raise Http404("No such user.")
        return HttpResponseRedirect(reverse("admin:activations_activation_changelist") + f"?user__id__exact={user.pk}")


# --- markup rules, with a live preview over the tenant's top pairs ---------------------------------------


admin.site.unregister(MarkupRule)


@admin.register(MarkupRule)
class ConsoleMarkupRuleAdmin(MarkupRuleAdmin):
    """The rule's preview table is computed from the form as it is being edited (a static script posts the
    fields to ``preview/`` and swaps the table; no inline script): supplier cost -> sell price for the tenant's
    most ordered services and countries, at the last supplier cost seen for each."""

    change_form_template = "admin/catalog/markuprule/change_form.html"

    def get_urls(self):
        return [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="catalog_markuprule_preview"),
            *super().get_urls(),
        ]

    def preview_rows(self, tenant_id: int, service_id: str, country_id: str, terms: MarkupTerms | None) -> list[dict]:
        tenant = Tenant.objects.filter(pk=tenant_id).first()
        if tenant is None:
            return []
        pairs = activation_selectors.top_pairs(tenant_id=tenant_id, since=timezone.now() - timedelta(days=PREVIEW_DAYS))
        rows = []
        for pair in pairs:
            cost = pair["last_cost_cents"]
            current = catalog_selectors.markup_terms_for(
                tenant=tenant, service_id=pair["service_id"], country_id=pair["country_id"]
            )
            applies = (not service_id or service_id == pair["service_id"]) and (
                not country_id or country_id == pair["country_id"]
            )
            rows.append(
                {
                    **pair,
                    "current_sell": current.sell(cost) if cost is not None else None,
                    "current_source": current.source,
                    "edited_sell": terms.sell(cost) if (terms is not None and cost is not None and applies) else None,
                    "applies": applies,
                }
            )
        return rows

    def preview_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else request.GET
        tenant_id = operator_tenant_id(request)
        if tenant_id is None:
            try:
                tenant_id = int(data.get("tenant") or 0)
            except ValueError:
                tenant_id = 0
        error = ""
        try:
            terms = MarkupTerms(
                percent_bp=int(data.get("percent_bp") or 0),
                fixed_cents=int(data.get("fixed_cents") or 0),
                min_margin_cents=int(data.get("min_margin_cents") or 0),
                rounding=data.get("rounding") or Rounding.NONE,
            )
        except ValueError:
            terms, error = None, "Enter whole, non-negative numbers to preview the rule."
        rows = self.preview_rows(tenant_id, data.get("service_id", ""), data.get("country_id", ""), terms)
        return TemplateResponse(
            request, "admin/catalog/markuprule/preview_table.html", {"rows": rows, "error": error, "days": PREVIEW_DAYS}
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        rule = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if rule is not None:
            extra["preview_rows"] = self.preview_rows(rule.tenant_id, rule.service_id, rule.country_id, rule.terms())
            extra["preview_days"] = PREVIEW_DAYS
        return super().change_view(request, object_id, form_url, extra)

    def add_view(self, request, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "preview_days": PREVIEW_DAYS}
        tenant_id = operator_tenant_id(request)
        if tenant_id is not None:
            extra["preview_rows"] = self.preview_rows(tenant_id, "", "", None)
        return super().add_view(request, form_url, extra)


# --- schedules: django-celery-beat, platform superusers only ---------------------------------------------


class SuperuserOnly(TenantScopedAdmin):
    tenant_lookup = None

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser and not is_tenant_staff(request)

    has_change_permission = has_view_permission

    def has_add_permission(self, request, *args):
        return self.has_view_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_view_permission(request)

    def has_module_permission(self, request):
        return self.has_view_permission(request)


for model in (PeriodicTask, IntervalSchedule, CrontabSchedule, SolarSchedule, ClockedSchedule, Group):
    admin.site.unregister(model)


# django-axes' log-in attempt logs (the storefronts' throttling): every storefront's users and IPs, so platform
# superusers only.
for model, axes_admin in (
    (AccessAttempt, axes_admins.AccessAttemptAdmin),
    (AccessLog, axes_admins.AccessLogAdmin),
    (AccessFailureLog, axes_admins.AccessFailureLogAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, type(f"Console{model.__name__}Admin", (SuperuserOnly, axes_admin), {}))


@admin.register(Group)
class ConsoleGroupAdmin(SuperuserOnly, GroupAdmin):
    """Permission groups, for platform staff who are not superusers."""


@admin.register(PeriodicTask)
class ConsolePeriodicTaskAdmin(SuperuserOnly, beat_admin.PeriodicTaskAdmin):
    @transaction.atomic
    def _audited_bulk(self, request, queryset, action_name: str, method):
        for task in queryset:
            audit_record(actor=request.user, action=f"schedule.{action_name}", target=task, tenant_id=None)
        return method(self, request, queryset)

    def enable_tasks(self, request, queryset):
        return self._audited_bulk(request, queryset, "enable", beat_admin.PeriodicTaskAdmin.enable_tasks)

    def disable_tasks(self, request, queryset):
        return self._audited_bulk(request, queryset, "disable", beat_admin.PeriodicTaskAdmin.disable_tasks)

    def toggle_tasks(self, request, queryset):
        return self._audited_bulk(request, queryset, "toggle", beat_admin.PeriodicTaskAdmin.toggle_tasks)

    def run_tasks(self, request, queryset):
        return self._audited_bulk(request, queryset, "run", beat_admin.PeriodicTaskAdmin.run_tasks)

    enable_tasks.short_description = beat_admin.PeriodicTaskAdmin.enable_tasks.short_description
    disable_tasks.short_description = beat_admin.PeriodicTaskAdmin.disable_tasks.short_description
    toggle_tasks.short_description = beat_admin.PeriodicTaskAdmin.toggle_tasks.short_description
    run_tasks.short_description = beat_admin.PeriodicTaskAdmin.run_tasks.short_description


@admin.register(IntervalSchedule)
class ConsoleIntervalScheduleAdmin(SuperuserOnly, beat_admin.IntervalScheduleAdmin):
    pass


@admin.register(CrontabSchedule)
class ConsoleCrontabScheduleAdmin(SuperuserOnly, beat_admin.CrontabScheduleAdmin):
    pass


@admin.register(SolarSchedule)
class ConsoleSolarScheduleAdmin(SuperuserOnly, beat_admin.SolarScheduleAdmin):
    pass


@admin.register(ClockedSchedule)
class ConsoleClockedScheduleAdmin(SuperuserOnly, beat_admin.ClockedScheduleAdmin):
    pass
