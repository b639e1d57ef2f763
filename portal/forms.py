"""The storefront's forms. They validate like the JSON API's serializers; amounts are typed in dollars and
become cents here. No form trusts a hidden field for a price or a user: the price comes from the quote."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from accounts import selectors as accounts_selectors
from portal.money import dollars_to_cents

IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_PRICE_DOLLARS = Decimal("100.00")  # the API's max_price range: 1..10000 cents


class EmailAuthenticationForm(AuthenticationForm):
    """Log in with the e-mail address, on this storefront only (``TenantEmailBackend`` scopes by host)."""

    username = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("The e-mail address or the password is not right."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        tenant = self.request.tenant if self.request is not None else None
        if not tenant or user.tenant_id != tenant.pk:
            # An operator (no tenant) is not a storefront user; answer as for a wrong password.
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")


class SignUpForm(forms.Form):
    email = forms.EmailField(
        label=_("E-mail"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters; not only digits, not a common password."),
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1:
            try:
                password_validation.validate_password(password1)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class TenantPasswordResetForm(PasswordResetForm):
    """Django's reset form, for the users of one storefront: the same address on another store is another
    person and gets nothing."""

    tenant = None  # set by the view before save()

    def get_users(self, email):
        if self.tenant is None:
            return []
        user = accounts_selectors.user_get(tenant=self.tenant, email=email)
        if user is None or not user.is_active or not user.has_usable_password():
            return []
        return [user]


class TenantSetPasswordForm(SetPasswordForm):
    pass


class BuyForm(forms.Form):
    """Confirming an order. ``expected_cents`` is the price the user saw: it is sent as the order's max price
    (a higher price is refused with 409 and shown as "the price is now X — continue?"); it is never what is
    charged. ``max_price`` lets the user accept a higher price up front."""

    expected_cents = forms.IntegerField(min_value=1, max_value=10_000, widget=forms.HiddenInput)
    max_price = forms.DecimalField(
        label=_("Maximum price (optional)"),
        required=False,
        min_value=Decimal("0.01"),
        max_value=MAX_PRICE_DOLLARS,
        max_digits=5,
        decimal_places=2,
        help_text=_("Buy only if the price is at most this much, in USD. Leave empty to pay the price shown."),
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "placeholder": "0.00"}),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, validators=[RegexValidator(IDEMPOTENCY_KEY_RE)])

    @staticmethod
    def new_idempotency_key() -> str:
        return secrets.token_urlsafe(24)

    def max_price_cents(self) -> int:
        """The order's max price: the user's, else the price they were shown."""
        max_price = self.cleaned_data.get("max_price")
        if max_price is not None:
            return dollars_to_cents(max_price)
        return self.cleaned_data["expected_cents"]


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, e.g. “my bot”. You can have several keys."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class WebhookEndpointForm(forms.Form):
    """Register or change a webhook endpoint. The URL's SSRF checks are the webhooks service's (one place); the
    form only bounds what is typed."""

    url = forms.CharField(
        label=_("URL"),
        max_length=2000,
        help_text=_("An https address of yours that receives the events as signed POST requests."),
        widget=forms.URLInput(attrs={"autocomplete": "off", "placeholder": "https://example.com/hooks/sms"}),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[],  # set in __init__: the catalogue lives in core.events
        widget=forms.CheckboxSelectMultiple,
        help_text=_("“All events” includes the kinds added later."),
        error_messages={"required": _("Choose at least one event.")},
    )
    description = forms.CharField(label=_("Description (optional)"), max_length=200, required=False)

    def __init__(self, *args, event_choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = event_choices


class LowBalanceForm(forms.Form):
    threshold = forms.DecimalField(
        label=_("Alert me below (USD)"),
        required=False,
        min_value=Decimal("0.01"),
        max_value=Decimal("100000.00"),
        max_digits=8,
        decimal_places=2,
        help_text=_("Sends the wallet.low_balance event when your balance falls below this. Empty: no alert."),
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "placeholder": "5.00"}),
    )

    def threshold_cents(self) -> int | None:
        threshold = self.cleaned_data.get("threshold")
        return None if threshold is None else dollars_to_cents(threshold)


class TopupForm(forms.Form):
    """Adding funds: an amount in dollars, and how (the store's checkout, or a transfer already made, reported
    with its reference for an operator to approve). The limits are the service's to check."""

    METHODS = (("checkout", _("Pay now")), ("manual", _("I made a transfer")))

    amount = forms.DecimalField(
        label=_("Amount (USD)"),
        min_value=Decimal("0.01"),
        max_value=Decimal("10000.00"),
        max_digits=7,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal", "placeholder": "10.00"}),
    )
    method = forms.ChoiceField(label=_("How"), choices=METHODS, initial="checkout", widget=forms.RadioSelect)
    reference = forms.CharField(
        label=_("Transfer reference"),
        required=False,
        max_length=200,
        help_text=_("For a transfer: its reference or transaction id, so we can find it."),
    )

    def __init__(self, *args, methods: tuple[str, ...] = ("checkout", "manual"), **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["method"]
        field.choices = [choice for choice in self.METHODS if choice[0] in methods]  # type: ignore[attr-defined]
        if len(methods) == 1:
            field.initial = methods[0]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("method") == "manual" and not (cleaned.get("reference") or "").strip():
            self.add_error("reference", _("Give the transfer's reference so we can find it."))
        return cleaned

    def amount_cents(self) -> int:
        return dollars_to_cents(self.cleaned_data["amount"])
