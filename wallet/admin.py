"""Operator screens for the ledger: everything read-only; balances change only through ``wallet.services``.

A user wallet's page has an "Adjust balance" button (permission ``wallet.adjust_balance``): a form with signed
cents and a reason that posts one adjustment through ``services.adjust``.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from wallet import services
from wallet.models import Account, Hold, JournalEntry, Posting


class ReadOnly:
    """The ledger is append-only: no one adds, edits or deletes rows through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    pass


class AdjustBalanceForm(forms.Form):
    amount_cents = forms.IntegerField(
        label="Amount (cents)",
        min_value=-services.MAX_AMOUNT_CENTS,
        max_value=services.MAX_AMOUNT_CENTS,
        help_text="Signed: 250 credits the wallet $2.50, -250 debits it.",
    )
    reason = forms.CharField(max_length=255, help_text="Required; shown to the user as the description.")
    # One id per rendered form: submitting the same form twice posts once (it is the idempotency key).
    submission_id = forms.UUIDField(widget=forms.HiddenInput)

    def clean_amount_cents(self):
        amount = self.cleaned_data["amount_cents"]
        if amount == 0:
            raise forms.ValidationError("The amount must not be zero.")
        return amount

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "type", "user", "balance_cents", "held_cents", "available", "created_at"]
    list_filter = ["tenant", "type"]
    search_fields = ["user__email"]
    list_select_related = ["tenant", "user"]
    readonly_fields = ["available"]
    change_form_template = "admin/wallet/account/change_form.html"

    @admin.display(description="Available cents")
    def available(self, obj: Account) -> int:
        return obj.available_cents

    def get_urls(self):
        return [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="wallet_account_adjust",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_adjust": request.user.has_perm("wallet.adjust_balance")}
        return super().change_view(request, object_id, form_url, extra_context)

    def adjust_view(self, request, object_id):
        if not request.user.has_perm("wallet.adjust_balance"):
            raise PermissionDenied
        account = self.get_object(request, object_id)
        if account is None or account.type != Account.Type.USER_WALLET:
            raise Http404("No such user wallet.")
        if request.method == "POST":
            form = AdjustBalanceForm(request.POST)
            if form.is_valid():
                try:
                    entry = services.adjust(
                        user=account.user,
                        amount_cents=form.cleaned_data["amount_cents"],
                        reason=form.cleaned_data["reason"],
                        idempotency_key=f"admin:adjust:{form.cleaned_data['submission_id']}",
                        actor=f"operator:{request.user.pk}",
                    )
                except services.WalletError as exc:
                    form.add_error(None, str(exc))
                else:
                    account.refresh_from_db()
                    self.message_user(
                        request,
                        f"Adjustment {entry.idempotency_key} posted: balance now {account.balance_cents} cents.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:wallet_account_change", args=[account.pk]))
        else:
            form = AdjustBalanceForm(initial={"submission_id": uuid.uuid4()})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust balance of {account.user}",
            "opts": self.model._meta,
            "original": account,
            "account": account,
            "form": form,
        }
        return TemplateResponse(request, "admin/wallet/account/adjust.html", context)


class PostingInline(ReadOnly, admin.TabularInline):
    model = Posting
    fields = ("account", "amount_cents", "balance_after_cents")
    readonly_fields = ("account", "amount_cents", "balance_after_cents")
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__user", "account__tenant")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "tenant", "kind", "idempotency_key", "description", "actor", "reference"]
    list_filter = ["tenant", "kind"]
    search_fields = ["idempotency_key", "reference", "postings__account__user__email"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    inlines = [PostingInline]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "account", "amount_cents", "status", "idempotency_key", "reference"]
    list_filter = ["account__tenant", "status"]
    search_fields = ["idempotency_key", "account__user__email"]
    list_select_related = ["account"]
