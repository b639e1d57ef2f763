"""Operator view of activations: read-only, with their audit trail. State changes go through services."""

from django.contrib import admin

from accounts.admin import UserAdmin
from accounts.models import User
from activations import selectors
from activations.models import Activation, ActivationEvent, ReconciliationIssue, UpstreamAccountStatus, WebhookEvent


class ActivationEventInline(admin.TabularInline):
    model = ActivationEvent
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "actor", "kind", "detail")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Activation)
class ActivationAdmin(admin.ModelAdmin):
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
    list_filter = ("tenant", "order_status", "activation_status", "billing_status", "sms_status")
    search_fields = ("=id", "upstream_id", "phone", "user__email")
    list_select_related = ("tenant", "user")
    inlines = [ActivationEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UserWithSuccessRateAdmin(UserAdmin):
    """The user list, with each user's 24 h SMS success rate: the share of the upstream account's success
    rate (7 % floor, 24 h block) that this user is responsible for."""

    list_display = (*UserAdmin.list_display, "success_rate_24h")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**selectors.success_rate_counts(prefix="activations__"))

    @admin.display(description="SMS success (24 h)")
    def success_rate_24h(self, obj) -> str:
        if not obj.finished_24h:
            return "—"
        return f"{100 * obj.succeeded_24h // obj.finished_24h} % of {obj.finished_24h}"


admin.site.unregister(User)
admin.site.register(User, UserWithSuccessRateAdmin)


@admin.register(ReconciliationIssue)
class ReconciliationIssueAdmin(admin.ModelAdmin):
    list_display = ("created_at", "tenant", "kind", "upstream_id", "activation", "action", "resolved_at")
    list_filter = ("tenant", "kind")
    search_fields = ("upstream_id",)
    readonly_fields = ("tenant", "kind", "upstream_id", "activation", "detail", "action", "created_at")


@admin.register(UpstreamAccountStatus)
class UpstreamAccountStatusAdmin(admin.ModelAdmin):
    list_display = ("tenant", "last_webhook_at", "low_balance_cents", "low_balance_at", "last_reconciled_at")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ("received_at", "tenant", "type", "event_id", "upstream_id")
    list_filter = ("tenant", "type")
    search_fields = ("event_id", "upstream_id")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
