"""Operator screens for tenants, domains, users and API keys. Secrets are write-only here."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import services
from accounts.models import ApiKey, Tenant, TenantDomain, User


def mask_secret(value: str) -> str:
    if not value:
        return "—"
    return "•" * 8 + (value[-4:] if len(value) >= 12 else "")


class SecretField(forms.CharField):
    """A write-only secret: rendered empty, and an empty submission keeps the stored value."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
        kwargs.setdefault("help_text", "Stored, never shown. Leave empty to keep the current value.")
        super().__init__(**kwargs)


class TenantForm(forms.ModelForm):
    platfone_base_url = forms.URLField(
        label="Platfone base URL",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="e.g. https://temp-number-api.com/api/v1",
    )
    platfone_api_key = SecretField(label="Platfone API key")
    platfone_webhook_secret = SecretField(label="Platfone webhook secret")

    class Meta:
        model = Tenant
        fields = (
            "slug",
            "name",
            "status",
            "support_email",
            "rate_limit_per_minute",
            "max_active_activations_per_user",
            "refund_on_cancel_after_sms",
            "max_refunds_after_sms_per_day",
            "finalize_after_sms_seconds",
            "min_user_success_rate_percent",
            "upstream_fair_share_percent",
            "success_guard_percent",
            "platfone_base_url",
            "platfone_api_key",
            "platfone_webhook_secret",
            "brand_logo",
            "brand_color",
            "topup_instructions",
        )

    def clean(self):
        cleaned = super().clean()
        for name in ("platfone_api_key", "platfone_webhook_secret"):
            if not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        return cleaned


class TenantDomainInline(admin.TabularInline):
    model = TenantDomain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    form = TenantForm
    list_display = (
        "slug",
        "name",
        "status",
        "rate_limit_per_minute",
        "max_active_activations_per_user",
        "platfone_base_url",
        "masked_api_key",
    )
    list_filter = ("status",)
    search_fields = ("slug", "name", "domains__host")
    inlines = [TenantDomainInline]

    @admin.display(description="Platfone key")
    def masked_api_key(self, obj: Tenant) -> str:
        return mask_secret(obj.platfone_api_key)


@admin.register(TenantDomain)
class TenantDomainAdmin(admin.ModelAdmin):
    list_display = ("host", "tenant", "is_primary")
    list_filter = ("tenant",)
    search_fields = ("host",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("tenant__slug", "email")
    list_display = ("email", "tenant", "is_active", "is_staff", "date_joined")
    list_filter = ("tenant", "is_active", "is_staff")
    search_fields = ("email",)
    fieldsets = (
        (None, {"fields": ("tenant", "email", "password")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("tenant", "email", "password1", "password2")}),)


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "name")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("user__tenant",)
    search_fields = ("prefix", "name", "user__email")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return ("user", "name") if obj is None else ("user", "name", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("user", *self.readonly_fields)

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        issued = services.api_key_create(user=form.cleaned_data["user"], name=form.cleaned_data["name"])
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        messages.warning(request, f"New API key (shown only now, copy it): {issued.raw_key}")

    def has_delete_permission(self, request, obj=None):
        return False  # revocation is final and keeps the record; see the "revoke" action

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        for key in queryset:
            services.api_key_revoke(api_key=key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")
