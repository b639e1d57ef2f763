"""Operator screens for top-ups (tenant-scoped like every screen, ``core.operator_admin``).

- *Top-up settings*: the provider, its credentials (write-only, encrypted at rest), manual transfers on/off, and
  the limits (minimum, maximum, daily cap per user), with the notification URL to give the provider.
- *Top-ups*: every payment, read-only; pending manual transfers have "Approve" (credits through the ledger, the
  operator recorded as the entry's actor and in the audit log) and "Reject". Refunds and disputes show what was
  taken back and the exposure: money the provider took back that the user had already spent.
- Provider notifications and reversals: read-only logs.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from unfold.decorators import action
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminPasswordWidget, UnfoldAdminTextInputWidget

from core.errors import DomainError
from core.operator_admin import ReadOnlyScopedAdmin, TenantScopedAdmin, is_tenant_staff
from payments import services
from payments.models import Payment, PaymentEvent, PaymentReversal, PaymentSettings, Provider, new_demo_secret

SECRET_FIELDS = ("stripe_secret_key", "stripe_webhook_secret", "cryptomus_api_key", "demo_secret")


class SecretField(forms.CharField):
    """A write-only secret: rendered empty, and an empty submission keeps the stored value."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "widget", UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"})
        )
        kwargs.setdefault("help_text", "Stored encrypted, never shown. Leave empty to keep the current value.")
        super().__init__(**kwargs)


class PaymentSettingsForm(forms.ModelForm):
    stripe_secret_key = SecretField(label="Stripe secret key (sk_…)")
    stripe_webhook_secret = SecretField(label="Stripe webhook signing secret (whsec_…)")
    cryptomus_api_key = SecretField(label="Cryptomus payment API key")
    demo_secret = SecretField(label="Demo provider signing secret")

    class Meta:
        model = PaymentSettings
        fields = [
            "tenant",
            "provider",
            "manual_enabled",
            "min_amount_cents",
            "max_amount_cents",
            "daily_cap_cents",
            "expire_after_minutes",
            "stripe_secret_key",
            "stripe_webhook_secret",
            "cryptomus_merchant_id",
            "cryptomus_api_key",
            "demo_secret",
        ]

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if name in self.fields and not cleaned.get(name) and self.instance.pk:
                cleaned[name] = getattr(self.instance, name)
        provider = cleaned.get("provider")
        if provider == Provider.DEMO and not settings.PAYMENTS_DEMO_PROVIDER:
            self.add_error("provider", "The demo provider credits wallets without real money: it is off here.")
        needs = {
            Provider.STRIPE: ("stripe_secret_key", "stripe_webhook_secret"),
            Provider.CRYPTOMUS: ("cryptomus_merchant_id", "cryptomus_api_key"),
        }.get(provider, ())
        missing = [self.fields[name].label for name in needs if not cleaned.get(name)]
        if missing:
            raise forms.ValidationError(f"This provider needs: {', '.join(str(m) for m in missing)}.")
        low, high = cleaned.get("min_amount_cents"), cleaned.get("max_amount_cents")
        if low and high and low > high:
            self.add_error("min_amount_cents", "The minimum top-up must not be above the maximum.")
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if self.instance.pk is None and not self.instance.demo_secret:
            self.instance.demo_secret = new_demo_secret()


@admin.register(PaymentSettings)
class PaymentSettingsAdmin(TenantScopedAdmin):
    form = PaymentSettingsForm
    tenant_staff_permissions = ("view", "change", "add")
    audit_redacted_fields = SECRET_FIELDS
    list_display = ["tenant", "provider", "manual_enabled", "min_amount_cents", "max_amount_cents", "daily_cap_cents"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__slug", "tenant__name"]
    readonly_fields = ["notification_urls", "credentials_on_file"]
    fieldsets = [
        (None, {"fields": ["tenant", "provider", "manual_enabled"]}),
        ("Limits", {"fields": ["min_amount_cents", "max_amount_cents", "daily_cap_cents", "expire_after_minutes"]}),
        ("Stripe", {"fields": ["stripe_secret_key", "stripe_webhook_secret"]}),
        ("Cryptomus", {"fields": ["cryptomus_merchant_id", "cryptomus_api_key"]}),
        ("Demo provider", {"fields": ["demo_secret"]}),
        ("For the provider's dashboard", {"fields": ["notification_urls", "credentials_on_file"]}),
    ]

    @admin.display(description="Notification (webhook) URLs")
    def notification_urls(self, obj: PaymentSettings) -> str:
        if not obj.pk:
            return "—"
        paths = [reverse("payments:notify", args=[obj.tenant.slug, name]) for name in ("stripe", "cryptomus")]
        return format_html(
            "Stripe: <code>https://&lt;your storefront&gt;{}</code><br>Cryptomus: set per invoice (<code>{}</code>)",
            paths[0],
            paths[1],
        )

    @admin.display(description="Credentials on file")
    def credentials_on_file(self, obj: PaymentSettings) -> str:
        on_file = [name.replace("_", " ") for name in SECRET_FIELDS if getattr(obj, name, "")]
        return ", ".join(on_file) or "none"


class ReviewForm(forms.Form):
    amount_cents = forms.IntegerField(
        label="Amount to credit (cents)",
        min_value=1,
        max_value=10**9,
        help_text="What actually arrived; defaults to what the user reported.",
        widget=UnfoldAdminIntegerFieldWidget,
    )
    note = forms.CharField(label="Note (audit log)", required=False, max_length=255, widget=UnfoldAdminTextInputWidget)


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=255, help_text="Shown to the user.", widget=UnfoldAdminTextInputWidget
    )


class ExposureFilter(admin.SimpleListFilter):
    title = "exposure"
    parameter_name = "exposure"

    def lookups(self, request, model_admin):
        return [("yes", "Taken back after being spent")]

    def queryset(self, request, queryset):
        return queryset.filter(exposure_cents__gt=0) if self.value() == "yes" else queryset


class PaymentReversalInline(admin.TabularInline):
    model = PaymentReversal
    extra = 0
    fields = [
        "kind",
        "provider_ref",
        "amount_cents",
        "recovered_cents",
        "exposure_cents",
        "created_at",
        "reinstated_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return True if is_tenant_staff(request) else super().has_view_permission(request, obj)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "id",
        "tenant",
        "user",
        "provider",
        "status",
        "amount_cents",
        "credited_cents",
        "reversed_cents",
        "exposure_cents",
        "reference",
        "created_at",
    ]
    list_filter = ["status", "provider", ExposureFilter]
    search_fields = ["user__email", "reference", "provider_txn_id"]
    list_select_related = ["tenant", "user"]
    inlines = [PaymentReversalInline]
    actions_detail = ["approve", "reject"]

    def has_review_permission(self, request, object_id=None):
        return is_tenant_staff(request) or request.user.has_perm("payments.change_payment")

    has_approve_permission = has_reject_permission = has_review_permission

    def _pending_manual(self, request, object_id) -> Payment:
        if not self.has_review_permission(request):
            raise PermissionDenied
        payment = self.get_object(request, object_id)
        if payment is None or payment.provider != Provider.MANUAL:
            raise Http404("No such manual top-up.")
        return payment

    def _review_page(self, request, payment: Payment, form, *, title: str, button: str):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "original": payment,
            "payment": payment,
            "form": form,
            "button": button,
        }
        return TemplateResponse(request, "admin/payments/payment/review.html", context)

    @action(description="Approve", url_path="approve", icon="check_circle", permissions=["approve"])
    def approve(self, request, object_id):
        payment = self._pending_manual(request, object_id)
        if request.method == "POST":
            form = ReviewForm(request.POST)
            if form.is_valid():
                try:
                    services.manual_topup_approve(
                        payment=payment,
                        operator=request.user,
                        amount_cents=form.cleaned_data["amount_cents"],
                        note=form.cleaned_data["note"],
                    )
                except DomainError as exc:
                    form.add_error(None, str(exc.message))
                else:
                    self.message_user(request, f"Top-up #{payment.pk} approved and credited.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
        else:
            form = ReviewForm(initial={"amount_cents": payment.amount_cents})
        return self._review_page(request, payment, form, title=f"Approve top-up #{payment.pk}", button="Approve")

    @action(description="Reject", url_path="reject", icon="cancel", permissions=["reject"])
    def reject(self, request, object_id):
        payment = self._pending_manual(request, object_id)
        if request.method == "POST":
            form = RejectForm(request.POST)
            if form.is_valid():
                try:
                    services.manual_topup_reject(
                        payment=payment, operator=request.user, reason=form.cleaned_data["reason"]
                    )
                except DomainError as exc:
                    form.add_error(None, str(exc.message))
                else:
                    self.message_user(request, f"Top-up #{payment.pk} rejected.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
        else:
            form = RejectForm()
        return self._review_page(request, payment, form, title=f"Reject top-up #{payment.pk}", button="Reject")


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyScopedAdmin):
    list_display = ["id", "tenant", "provider", "event_id", "kind", "payment", "outcome", "received_at"]
    list_filter = ["provider"]
    search_fields = ["event_id", "outcome"]
    list_select_related = ["tenant", "payment"]


@admin.register(PaymentReversal)
class PaymentReversalAdmin(ReadOnlyScopedAdmin):
    list_display = [
        "id",
        "tenant",
        "payment",
        "kind",
        "amount_cents",
        "recovered_cents",
        "exposure_cents",
        "created_at",
    ]
    list_filter = ["kind"]
    search_fields = ["provider_ref", "payment__user__email"]
    list_select_related = ["tenant", "payment"]
