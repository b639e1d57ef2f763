"""The storefront's pages, at the root of each tenant's host."""

from django.urls import path, re_path

from portal.views import (
    account,
    auth,
    brand,
    catalog,
    favourites,
    help,
    history,
    numbers,
    preferences,
    reports,
    topup,
    webhooks,
)

app_name = "portal"

SERVICE = r"(?P<service_id>[A-Za-z0-9_-]{1,30})"
COUNTRY = r"(?P<country_id>[a-zA-Z0-9_-]{2,9})"

urlpatterns = [
    path("", catalog.catalog, name="catalog"),
    re_path(rf"^services/{SERVICE}/$", catalog.service_detail, name="service"),
    path("countries/", catalog.countries, name="countries"),
    re_path(rf"^countries/{COUNTRY}/$", catalog.country_detail, name="country"),
    re_path(rf"^buy/{SERVICE}/{COUNTRY}/$", numbers.buy, name="buy"),
    path("numbers/", numbers.dashboard, name="dashboard"),
    path("numbers/live/", numbers.dashboard_live, name="dashboard-live"),
    path("numbers/<str:activation_id>/", numbers.activation_detail, name="activation"),
    path("numbers/<str:activation_id>/status/", numbers.activation_status, name="activation-status"),
    path("numbers/<str:activation_id>/<slug:action>/", numbers.activation_action, name="activation-action"),
    path("wallet/", account.wallet, name="wallet"),
    path("api-keys/", account.api_keys, name="api-keys"),
    path("api-keys/<str:key_id>/revoke/", account.api_key_revoke, name="api-key-revoke"),
    path("developers/", account.api_docs, name="api-docs"),
    path("api-keys/webhooks/", webhooks.webhooks_index, name="webhooks"),
    path("api-keys/webhooks/low-balance/", webhooks.low_balance, name="webhook-low-balance"),
    path("api-keys/webhooks/<str:endpoint_id>/", webhooks.webhook_detail, name="webhook"),
    path("api-keys/webhooks/<str:endpoint_id>/delete/", webhooks.webhook_delete, name="webhook-delete"),
    path(
        "api-keys/webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/redeliver/",
        webhooks.webhook_redeliver,
        name="webhook-redeliver",
    ),
    path("api-keys/webhooks/<str:endpoint_id>/<slug:action>/", webhooks.webhook_action, name="webhook-action"),
    path("account/signup/", auth.sign_up, name="signup"),
    path("account/login/", auth.LogInView.as_view(), name="login"),
    path("account/logout/", auth.LogOutView.as_view(), name="logout"),
    path("account/password-reset/", auth.PasswordResetView.as_view(), name="password-reset"),
    path("account/password-reset/sent/", auth.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("account/reset/<uidb64>/<token>/", auth.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("account/reset/done/", auth.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("account/verify/<uidb64>/<token>/", auth.verify_email, name="verify-email"),
    path("account/verify/resend/", auth.verify_email_resend, name="verify-email-resend"),
    path("brand/theme.css", brand.theme_css, name="theme-css"),
    path("brand/logo", brand.logo, name="logo"),
    path("wallet/top-up/", topup.topup, name="topup"),
    path("wallet/top-up/<str:public_id>/", topup.topup_status, name="topup-status"),
]

# Portal part 2 (issue 15): the account around the purchase.
urlpatterns += [
    path("history/", history.history, name="history"),
    path("history/export.csv", history.history_csv, name="history-csv"),
    path("reports/", reports.my_reports, name="reports"),
    path("reports/new/<str:activation_id>/", reports.report_problem, name="report"),
    re_path(
        r"^favourites/(?P<kind>service|country)/(?P<item_id>[A-Za-z0-9_-]{1,30})/$",
        favourites.favourite_toggle,
        name="favourite",
    ),
    path("account/settings/", preferences.account_settings, name="settings"),
    path("account/settings/preferences/", preferences.preferences_save, name="preferences"),
    path("account/settings/email/", preferences.email_change, name="email-change"),
    path("account/settings/email/<str:token>/", preferences.email_change_confirm, name="email-change-confirm"),
    path("account/settings/password/", preferences.password_change, name="password-change"),
    path("account/delete/", preferences.account_delete, name="account-delete"),
    path("language/", preferences.language_switch, name="language"),
    path("theme/", preferences.theme_switch, name="theme"),
    path("help/", help.help_index, name="help"),
    path("help/contact/", help.help_contact, name="help-contact"),
]
