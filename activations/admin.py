"""Operator view of activations: read-only, with their audit trail. State changes go through services."""

from django.contrib import admin

from activations.models import Activation, ActivationEvent


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
