"""Operator screens for the ledger: everything read-only; balances change only through ``wallet.services``.

- A user wallet's page has "Adjust balance" (tenant staff, or permission ``wallet.adjust_balance``): signed
  cents and a mandatory reason, posted once through ``services.adjust`` (the rendered form's id is the
  idempotency key) and audited.
- Every account has a statement (postings with their running balance) and its CSV export.
- "Verify ledger" on the account list runs ``verify_ledger`` (a tenant's staff: their tenant only) and shows
  the result.
"""

from __future__ import annotations

import csv
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.decorators import action
from unfold.widgets import UnfoldAdminIntegerFieldWidget, UnfoldAdminTextInputWidget

from core.audit import audit_record
from core.operator_admin import ReadOnlyScopedAdmin, ScopedTabularInline, is_tenant_staff, operator_tenant_id
from wallet import selectors, services
from wallet.models import Account, Hold, JournalEntry, Posting

STATEMENT_PAGE_ROWS = 500


class AdjustBalanceForm(forms.Form):
    amount_cents = forms.IntegerField(
        label="Amount (cents)",
        min_value=-services.MAX_AMOUNT_CENTS,
        max_value=services.MAX_AMOUNT_CENTS,
        help_text="Signed: 250 credits the wallet $2.50, -250 debits it.",
        widget=UnfoldAdminIntegerFieldWidget,
    )
    reason = forms.CharField(
        max_length=255,
        help_text="Required; shown to the user as the description.",
        widget=UnfoldAdminTextInputWidget,
    )
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


def can_adjust(request) -> bool:
    return is_tenant_staff(request) or request.user.has_perm("wallet.adjust_balance")


def adjust_wallet(request, account: Account, form: AdjustBalanceForm) -> JournalEntry:
    """Post the adjustment and its audit entry together; a resubmitted form posts and audits nothing new."""
    key = f"admin:adjust:{form.cleaned_data['submission_id']}"
    if account.user is None:
        raise services.WalletError("Only a user wallet can be adjusted.")
    with transaction.atomic():
        before = Account.objects.get(pk=account.pk).balance_cents
        entry = services.adjust(
            user=account.user,
            amount_cents=form.cleaned_data["amount_cents"],
            reason=form.cleaned_data["reason"],
            idempotency_key=key,
            actor=f"operator:{request.user.pk}",
        )
        account.refresh_from_db()
        audit_record(
            actor=request.user,
            action="wallet.credit" if form.cleaned_data["amount_cents"] > 0 else "wallet.debit",
            target=account.user,
            tenant_id=account.tenant_id,
            reason=form.cleaned_data["reason"],
            before={"balance_cents": before},
            after={
                "balance_cents": account.balance_cents,
                "amount_cents": form.cleaned_data["amount_cents"],
                "entry": entry.idempotency_key,
            },
            dedupe_key=key,
        )
    return entry


@admin.register(Account)
class AccountAdmin(ReadOnlyScopedAdmin):
    list_display = ["id", "tenant", "type", "user", "balance_cents", "held_cents", "available", "created_at"]
    list_filter = ["type"]
    search_fields = ["user__email"]
    list_select_related = ["tenant", "user"]
    readonly_fields = ["available"]
    actions_detail = ["adjust", "statement", "statement_csv"]
    actions_list = ["verify"]

    @admin.display(description="Available cents")
    def available(self, obj: Account) -> int:
        return obj.available_cents

    def has_adjust_permission(self, request, object_id=None):
        # The button shows on every account; the page answers 404 for anything but one of the operator's user
        # wallets (checking the type here would answer 403 for another tenant's account: an existence leak).
        return can_adjust(request)

    def has_verify_permission(self, request, object_id=None):
        return self.has_view_permission(request)

    has_statement_permission = has_statement_csv_permission = has_verify_permission

    def _account(self, request, object_id) -> Account:
        account = self.get_object(request, object_id)
        if account is None:
            raise Http404("No such account.")
        return account

    @action(description="Adjust balance", url_path="adjust", icon="currency_exchange", permissions=["adjust"])
    def adjust(self, request, object_id):
        if not can_adjust(request):
            raise PermissionDenied
        account = self.get_object(request, object_id)
        if account is None or account.type != Account.Type.USER_WALLET:
            raise Http404("No such user wallet.")
        if request.method == "POST":
            form = AdjustBalanceForm(request.POST)
            if form.is_valid():
                try:
                    entry = adjust_wallet(request, account, form)
                except services.WalletError as exc:
                    form.add_error(None, str(exc))
                else:
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

    @action(description="Statement", url_path="statement", icon="receipt_long", permissions=["statement"])
    def statement(self, request, object_id):
        account = self._account(request, object_id)
        rows = selectors.account_statement(account=account, last=STATEMENT_PAGE_ROWS)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Statement of {account}",
            "opts": self.model._meta,
            "original": account,
            "account": account,
            "rows": rows,
            "truncated": len(rows) == STATEMENT_PAGE_ROWS,
            "page_rows": STATEMENT_PAGE_ROWS,
        }
        return TemplateResponse(request, "admin/wallet/account/statement.html", context)

    @action(description="Export CSV", url_path="statement.csv", icon="download", permissions=["statement_csv"])
    def statement_csv(self, request, object_id):
        account = self._account(request, object_id)
        header = selectors.STATEMENT_COLUMNS

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())

        def lines():
            yield writer.writerow(header)
            for row in selectors.account_statement(account=account):
                yield writer.writerow([row[name] for name in header])

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="account-{account.pk}-statement.csv"'
        return response

    @action(description="Verify ledger", url_path="verify", icon="fact_check", permissions=["verify"])
    def verify(self, request):
        report = selectors.verify_ledger(tenant_id=operator_tenant_id(request))
        context = {
            **self.admin_site.each_context(request),
            "title": "Ledger verification",
            "opts": self.model._meta,
            "report": report,
        }
        return TemplateResponse(request, "admin/wallet/account/verify.html", context)


class PostingInline(ScopedTabularInline):
    model = Posting
    fields = ("account", "amount_cents", "balance_after_cents")
    readonly_fields = ("account", "amount_cents", "balance_after_cents")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__user", "account__tenant")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyScopedAdmin):
    list_display = ["id", "created_at", "tenant", "kind", "idempotency_key", "description", "actor", "reference"]
    list_filter = ["kind"]
    search_fields = ["idempotency_key", "reference", "postings__account__user__email"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    inlines = [PostingInline]


@admin.register(Posting)
class PostingAdmin(ReadOnlyScopedAdmin):
    tenant_lookup = "account__tenant"
    list_display = ["id", "entry", "account", "amount_cents", "balance_after_cents"]
    list_filter = ["entry__kind"]
    search_fields = ["entry__idempotency_key", "entry__reference", "account__user__email"]
    list_select_related = ["entry", "account"]


@admin.register(Hold)
class HoldAdmin(ReadOnlyScopedAdmin):
    tenant_lookup = "account__tenant"
    list_display = ["id", "created_at", "account", "amount_cents", "status", "idempotency_key", "reference"]
    list_filter = ["status"]
    search_fields = ["idempotency_key", "account__user__email"]
    list_select_related = ["account"]
