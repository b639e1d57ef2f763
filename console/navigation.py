"""The console's sidebar: the screens an operator may open, grouped by what they are for."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse

GROUPS = [
    (
        "Business",
        [
            ("Users", "people", "accounts", "user"),
            ("Activations", "sms", "activations", "activation"),
            ("API keys", "key", "accounts", "apikey"),
        ],
    ),
    (
        "Money",
        [
            ("Ledger accounts", "account_balance_wallet", "wallet", "account"),
            ("Journal entries", "receipt_long", "wallet", "journalentry"),
            ("Postings", "list", "wallet", "posting"),
            ("Holds", "lock", "wallet", "hold"),
            ("Top-ups", "add_card", "payments", "payment"),
            ("Top-up refunds and disputes", "undo", "payments", "paymentreversal"),
            ("Provider notifications", "mark_email_read", "payments", "paymentevent"),
        ],
    ),
    (
        "Supplier",
        [
            ("Reconciliation issues", "report", "activations", "reconciliationissue"),
            ("Webhook events", "webhook", "activations", "webhookevent"),
            ("Account status", "monitor_heart", "activations", "upstreamaccountstatus"),
            ("Services", "apps", "catalog", "service"),
            ("Countries", "public", "catalog", "country"),
            ("Catalog syncs", "sync", "catalog", "catalogsync"),
        ],
    ),
    (
        "Settings",
        [
            ("Tenant settings", "storefront", "accounts", "tenant"),
            ("Domains", "language", "accounts", "tenantdomain"),
            ("Markup rules", "percent", "catalog", "markuprule"),
            ("Top-up settings", "payments", "payments", "paymentsettings"),
            ("Schedules", "schedule", "django_celery_beat", "periodictask"),
        ],
    ),
    (
        "Oversight",
        [
            ("Alerts", "notifications", "console", "alert"),
            ("Audit log", "history_edu", "core", "auditentry"),
        ],
    ),
]


def _model_admin(app_label: str, model_name: str):
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label == app_label and model._meta.model_name == model_name:
            return model_admin
    return None


def sidebar(request) -> list[dict]:
    groups = [
        {"title": "Console", "items": [{"title": "Dashboard", "icon": "dashboard", "link": reverse("admin:index")}]}
    ]
    for title, items in GROUPS:
        visible = []
        for label, icon, app_label, model_name in items:
            model_admin = _model_admin(app_label, model_name)
            if model_admin is None or not model_admin.has_view_permission(request):
                continue
            visible.append(
                {"title": label, "icon": icon, "link": reverse(f"admin:{app_label}_{model_name}_changelist")}
            )
        if visible:
            groups.append({"title": title, "separator": True, "items": visible})
    return groups
