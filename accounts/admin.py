"""Operator screens for tenants (the tenant settings page), domains, users and API keys.

Secrets are write-only here. Every screen is tenant-scoped (``core.operator_admin``): a tenant's staff see and
change only their tenant; platform users see all. Writes go through ``accounts.services`` and are audited.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.html import format_html_join
from unfold.forms import AdminPasswordChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldAdminURLInputWidget

from accounts import selectors, services
from accounts.models import ApiKey, Tenant, TenantDomain, User
from core.audit import audit_record
from core.operator_admin import ScopedTabularInline, TenantScopedAdmin, is_tenant_staff


def mask_secret(value: str) -> str:
    if not value:
        return "—"
    return "•" * 8 + (value[-4:] if len(value) >= 12 else "")


class SecretField(forms.CharField):
    """A write-only secret: rendered empty, and an empty submission keeps the stored value."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget", UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"})
        )
        kwargs.setdefault("help_text", "Stored encrypted, never shown. Leave empty to keep the current value.")
        super().__init__(**kwargs)


# The tenant settings page, group by group. A new Tenant field lands in a group by being listed here; a field
# listed nowhere still shows, under "Other settings" (tests/console/test_tenant_settings.py flags it).
TENANT_SETTINGS_GROUPS: dict[str, tuple[str, ...]] = {
    "Tenant": ("slug", "status"),
    "Branding": ("name", "brand_logo", "brand_color"),
    "Domains": ("domain_list",),
    "Limits and money policies": (
        "rate_limit_per_minute",
        "max_active_activations_per_user",
        "finalize_after_sms_seconds",
        "min_user_success_rate_percent",
        "refund_on_cancel_after_sms",
        "max_refunds_after_sms_per_day",
        "upstream_fair_share_percent",
        "success_guard_percent",
    ),
    "Texts": ("support_email", "topup_instructions", "help_faq", "help_contact"),
    "Alerts": ("alert_supplier_balance_below_cents", "alert_webhook_silence_minutes"),
    "Supplier": ("platfone_base_url", "platfone_api_key", "platfone_webhook_secret", "supplier_key_on_file"),
}
# Read-only on the page (computed); never form fields.
TENANT_DISPLAY_FIELDS = ("domain_list", "supplier_key_on_file")
# Only platform users change these: the tenant's identity, its state, and where the server connects to.
TENANT_PLATFORM_FIELDS = ("slug", "status", "platfone_base_url")
TENANT_SECRET_FIELDS = ("platfone_api_key", "platfone_webhook_secret")


def tenant_settings_fields() -> list[str]:
    """Every editable Tenant field, grouped ones first, in page order."""
    grouped = [name for names in TENANT_SETTINGS_GROUPS.values() for name in names]
    editable = [f.name for f in Tenant._meta.concrete_fields if f.editable and not f.primary_key]
    return grouped + [name for name in editable if name not in grouped]


class TenantForm(forms.ModelForm):
    platfone_base_url = forms.URLField(
        label="Platfone base URL",
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text="e.g. https://temp-number-api.com/api/v1",
        widget=UnfoldAdminURLInputWidget,
    )
    platfone_api_key = SecretField(label="Platfone API key")
    platfone_webhook_secret = SecretField(label="Platfone webhook secret")

    class Meta:
        model = Tenant
        fields = [name for name in tenant_settings_fields() if name not in TENANT_DISPLAY_FIELDS]

    def clean(self):
        cleaned = super().clean()
        for name in TENANT_SECRET_FIELDS:
            if name in self.fields and not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        base_url = cleaned.get("platfone_base_url", self.instance.platfone_base_url) or ""
        api_key = cleaned.get("platfone_api_key") or ""
        if api_key and selectors.upstream_account_in_use(
            base_url=base_url, api_key=api_key, exclude_tenant_id=self.instance.pk
        ):
            raise ValidationError("Another tenant already uses this Platfone account (base URL and API key).")
        return cleaned


class TenantDomainInline(ScopedTabularInline):
    model = TenantDomain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    """The tenant settings page. Tenant staff edit their own tenant's settings (not its identity, state or
    supplier URL); platform users manage every tenant."""

    tenant_lookup = "pk"
    tenant_staff_permissions = ("view", "change")
    tenant_staff_excluded_fields = ()
    audit_redacted_fields = TENANT_SECRET_FIELDS
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

    def get_fieldsets(self, request, obj=None):
        grouped = {name for names in TENANT_SETTINGS_GROUPS.values() for name in names}
        fieldsets = [(title, {"fields": list(names)}) for title, names in TENANT_SETTINGS_GROUPS.items()]
        others = [name for name in tenant_settings_fields() if name not in grouped]
        if others:
            fieldsets.append(("Other settings", {"fields": others}))
        if obj is None:  # adding: nothing to display yet
            fieldsets = [
                (title, {"fields": [f for f in opts["fields"] if f not in TENANT_DISPLAY_FIELDS]})
                for title, opts in fieldsets
            ]
        return [(title, opts) for title, opts in fieldsets if opts["fields"]]

    def get_fields(self, request, obj=None):
        return [name for _, opts in self.get_fieldsets(request, obj) for name in opts["fields"]]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(TENANT_DISPLAY_FIELDS)
        if is_tenant_staff(request):
            readonly += list(TENANT_PLATFORM_FIELDS)
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = [
            name for name in self.get_fields(request, obj) if name not in self.get_readonly_fields(request, obj)
        ]
        return super().get_form(request, obj, change=change, **kwargs)

    @admin.display(description="Platfone key")
    def masked_api_key(self, obj: Tenant) -> str:
        return mask_secret(obj.platfone_api_key)

    @admin.display(description="Domains")
    def domain_list(self, obj: Tenant) -> str:
        hosts = list(obj.domains.values_list("host", "is_primary"))
        if not hosts:
            return "—"
        return format_html_join(", ", "{}{}", ((host, " (primary)" if primary else "") for host, primary in hosts))

    @admin.display(description="API key on file")
    def supplier_key_on_file(self, obj: Tenant) -> str:
        return mask_secret(obj.platfone_api_key)

    def save_through_service(self, request, obj, form, change):
        try:
            services.tenant_settings_save(tenant=obj)
        except services.AccountError as exc:
            raise ValidationError(str(exc)) from exc


@admin.register(TenantDomain)
class TenantDomainAdmin(TenantScopedAdmin):
    """Domains route storefront traffic and must be in ALLOWED_HOSTS: platform users manage them."""

    list_display = ("host", "tenant", "is_primary")
    search_fields = ("host",)


class ConsoleUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("tenant") and cleaned.get("is_superuser"):
            raise ValidationError("A tenant's user cannot be a platform superuser; clear the tenant or the flag.")
        return cleaned


class ConsoleUserCreationForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("tenant", "email")


class ApiKeyInline(ScopedTabularInline):
    """A user's keys, read-only: issue keys on the API keys page, revoke them there or from the user page."""

    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("prefix", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    """Users: search by e-mail; tenant staff see their tenant's users and suspend or reactivate them (the
    ``activations`` screens add wallet and activity). Only platform users edit accounts and staff rights."""

    tenant_staff_permissions = ("view",)
    form = ConsoleUserChangeForm
    add_form = ConsoleUserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("tenant__slug", "email")
    list_display = ("email", "tenant", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff")
    search_fields = ("email",)
    list_select_related = ("tenant",)
    fieldsets = (
        (None, {"fields": ("tenant", "email", "password")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("tenant", "email", "password1", "password2")}),)
    actions = ["suspend_users", "reactivate_users"]
    inlines = [ApiKeyInline]

    def user_change_password(self, request, id, form_url=""):
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = self.get_object(request, id)
                audit_record(
                    actor=request.user, action="user.password_change", target=user, after={"password": "(set)"}
                )
        return response

    @admin.action(description="Suspend selected users (their API keys stop working)")
    def suspend_users(self, request, queryset):
        self._set_active(request, queryset, active=False)

    @admin.action(description="Reactivate selected users")
    def reactivate_users(self, request, queryset):
        self._set_active(request, queryset, active=True)

    def has_suspend_users_permission(self, request):
        return is_tenant_staff(request) or request.user.has_perm("accounts.change_user")

    has_reactivate_users_permission = has_suspend_users_permission

    def _set_active(self, request, queryset, *, active: bool) -> None:
        changed = 0
        for user in queryset.filter(tenant__isnull=False):
            with transaction.atomic():
                if services.user_set_active(user=user, active=active):
                    audit_record(
                        actor=request.user,
                        action="user.reactivate" if active else "user.suspend",
                        target=user,
                        before={"is_active": not active},
                        after={"is_active": active},
                    )
                    changed += 1
        verb = "Reactivated" if active else "Suspended"
        self.message_user(request, f"{verb} {changed} user(s).", messages.SUCCESS)


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("user", "name")


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    tenant_lookup = "user__tenant"
    tenant_staff_permissions = ("view", "change", "add")
    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    search_fields = ("prefix", "name", "user__email")
    autocomplete_fields = ("user",)
    list_select_related = ("user__tenant",)
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["user", "name"] if obj is None else ["user", "name", *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("user", *self.readonly_fields)

    def save_through_service(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        issued = services.api_key_create(user=form.cleaned_data["user"], name=form.cleaned_data["name"])
        obj.pk = issued.api_key.pk
        obj.prefix = issued.api_key.prefix
        obj.user = issued.api_key.user
        messages.warning(request, f"New API key (shown only now, copy it): {issued.raw_key}")

    def tenant_of(self, obj):
        return obj.user.tenant_id

    def has_delete_permission(self, request, obj=None):
        return False  # revocation is final and keeps the record; see the "revoke" action

    def has_revoke_permission(self, request):
        return self.has_change_permission(request)

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = 0
        for key in queryset.select_related("user"):
            with transaction.atomic():
                was_revoked = key.is_revoked
                services.api_key_revoke(api_key=key)
                if not was_revoked:
                    audit_record(
                        actor=request.user,
                        action="api_key.revoke",
                        target=key,
                        tenant_id=key.user.tenant_id,
                        before={"revoked_at": None},
                        after={"revoked_at": key.revoked_at},
                    )
                    revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).")
