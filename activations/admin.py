"""Operator screens for activations and the supplier account's logs.

Activations are read-only rows with three operator actions, each through its service and audited: force a
sync (``activation_refresh(force=True)``), cancel (``activation_cancel``, the user's own rules) and refund
(``activation_refund``, through the settlement rules). Reconciliation issues can be marked resolved.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from unfold.contrib.filters.admin import RangeDateTimeFilter

from activations import services
from activations.models import Activation, ActivationEvent, ReconciliationIssue, UpstreamAccountStatus, WebhookEvent
from activations.services.reconcile import reconciliation_issue_resolve
from core.audit import audit_record
from core.errors import DomainError
from core.operator_admin import ReadOnlyScopedAdmin, ScopedTabularInline, TenantScopedAdmin, is_tenant_staff

# Each of these actions may call the supplier once per activation: a bounded batch keeps a request short.
MAX_PER_ACTION = 100
STATE_FIELDS = ("order_status", "sms_status", "activation_status", "billing_status", "upstream_billing_status")


class ActivationEventInline(ScopedTabularInline):
    model = ActivationEvent
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "actor", "kind", "detail")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ServiceFilter(admin.SimpleListFilter):
    title = "service"
    parameter_name = "service"

    def lookups(self, request, model_admin):
        ids = model_admin.get_queryset(request).order_by().values_list("service_id", flat=True).distinct()
        return [(value, value) for value in sorted(ids)[:200]]

    def queryset(self, request, queryset):
        return queryset.filter(service_id=self.value()) if self.value() else queryset


class CountryFilter(ServiceFilter):
    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        ids = model_admin.get_queryset(request).order_by().values_list("country_id", flat=True).distinct()
        return [(value, value) for value in sorted(ids)[:200]]

    def queryset(self, request, queryset):
        return queryset.filter(country_id=self.value()) if self.value() else queryset


@admin.register(Activation)
class ActivationAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "id",
        "tenant",
        "user",
        "service_id",
        "country_id",
        "phone",
        "order_status",
        "sms_status",
        "activation_status",
        "billing_status",
        "sell_price_cents",
        "price_cents",
        "created_at",
    )
    list_filter = (
        "activation_status",
        "billing_status",
        "order_status",
        "sms_status",
        ServiceFilter,
        CountryFilter,
        ("created_at", RangeDateTimeFilter),
    )
    list_filter_submit = True
    search_fields = ("=id", "upstream_id", "phone", "user__email")
    list_select_related = ("tenant", "user")
    inlines = [ActivationEventInline]
    actions = ["force_sync", "cancel", "refund"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def lookup_allowed(self, lookup, value, request=None):
        # "see their activations" links from the user page filter by user.
        return lookup in {"user__id__exact", "user__exact"} or super().lookup_allowed(lookup, value, request)

    def has_operate_permission(self, request):
        return is_tenant_staff(request) or request.user.has_perm("activations.change_activation")

    @admin.action(description="Sync from the supplier now", permissions=["operate"])
    def force_sync(self, request, queryset):
        self._operate(
            request,
            queryset,
            "activation.sync",
            lambda a, actor: services.activation_refresh(activation=a, actor=actor, polled=False, force=True),
        )

    @admin.action(description="Cancel (the user's cancel rules: release the hold or refund)", permissions=["operate"])
    def cancel(self, request, queryset):
        self._operate(
            request,
            queryset,
            "activation.cancel",
            lambda a, actor: services.activation_cancel(activation=a, actor=actor),
        )

    @admin.action(description="Refund the charge (goodwill: the supplier cost stays booked)", permissions=["operate"])
    def refund(self, request, queryset):
        self._operate(
            request,
            queryset,
            "activation.refund",
            lambda a, actor: services.activation_refund(activation=a, actor=actor),
        )

    def _operate(self, request, queryset, action: str, run) -> None:
        done = 0
        if queryset.count() > MAX_PER_ACTION:
            self.message_user(
                request,
                f"Only the first {MAX_PER_ACTION} selected activations are processed at a time.",
                messages.WARNING,
            )
        for activation in queryset.select_related("tenant", "user").order_by("pk")[:MAX_PER_ACTION]:
            before = {name: getattr(activation, name) for name in STATE_FIELDS}
            try:
                # Not one transaction with the audit entry: a cancel or a sync talks to the supplier, and no
                # database transaction may stay open across that call. Each service commits its own change.
                after_row = run(activation, f"operator:{request.user.pk}")
            except DomainError as exc:
                self.message_user(request, f"#{activation.pk}: {exc.message}", messages.ERROR)
                continue
            after = {name: getattr(after_row, name) for name in STATE_FIELDS}
            audit_record(actor=request.user, action=action, target=activation, before=before, after=after)
            done += 1
        if done:
            self.message_user(request, f"{action}: done for {done} activation(s).", messages.SUCCESS)


@admin.register(ReconciliationIssue)
class ReconciliationIssueAdmin(TenantScopedAdmin):
    tenant_staff_permissions = ("view",)
    list_display = ("created_at", "tenant", "kind", "upstream_id", "activation", "action", "resolved_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("upstream_id",)
    readonly_fields = ("tenant", "kind", "upstream_id", "activation", "detail", "action", "created_at", "resolved_at")
    actions = ["resolve"]

    def has_add_permission(self, request, *args):
        return False

    def has_resolve_permission(self, request):
        return is_tenant_staff(request) or request.user.has_perm("activations.change_reconciliationissue")

    @admin.action(description="Mark as resolved", permissions=["resolve"])
    def resolve(self, request, queryset):
        resolved = 0
        for issue in queryset:
            with transaction.atomic():
                if reconciliation_issue_resolve(issue=issue):
                    audit_record(
                        actor=request.user,
                        action="reconciliation.resolve",
                        target=issue,
                        before={"resolved_at": None},
                        after={"resolved": True},
                    )
                    resolved += 1
        self.message_user(request, f"Resolved {resolved} issue(s).")


@admin.register(UpstreamAccountStatus)
class UpstreamAccountStatusAdmin(ReadOnlyScopedAdmin):
    list_display = ("tenant", "last_webhook_at", "low_balance_cents", "low_balance_at", "last_reconciled_at")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyScopedAdmin):
    list_display = ("received_at", "applied_at", "tenant", "type", "event_id", "upstream_id")
    list_filter = ("type", ("applied_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "upstream_id")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
