"""Every API path, relative to ``/api/v1/``. The index.php router resolves against this list too."""

from django.urls import re_path

from activations.api import (
    ActivationCancelView,
    ActivationDetailView,
    ActivationFinalizeView,
    ActivationPollView,
    ActivationReportReasonsView,
    ActivationReportView,
    ActivationRetryView,
    ActivationsView,
)
from catalog.api import CountriesView, PriceView, ServicesView
from core.api.router import api_not_found
from wallet.api import WalletLowBalanceView, WalletView
from webhooks.api import (
    WebhookDeliveriesView,
    WebhookDetailView,
    WebhookDisableView,
    WebhookEnableView,
    WebhookRedeliverView,
    WebhookRotateView,
    WebhooksView,
    WebhookTestView,
)

urlpatterns = [
    re_path(r"^wallet/?$", WalletView.as_view(), name="api-wallet"),
    re_path(r"^activations/?$", ActivationsView.as_view(), name="api-activations"),
    re_path(r"^activations/(?P<activation_id>[^/]+)/?$", ActivationDetailView.as_view(), name="api-activation"),
    re_path(r"^activations/(?P<activation_id>[^/]+)/poll/?$", ActivationPollView.as_view(), name="api-activation-poll"),
    re_path(
        r"^activations/(?P<activation_id>[^/]+)/cancel/?$", ActivationCancelView.as_view(), name="api-activation-cancel"
    ),
    re_path(
        r"^activations/(?P<activation_id>[^/]+)/retry/?$", ActivationRetryView.as_view(), name="api-activation-retry"
    ),
    re_path(
        r"^activations/(?P<activation_id>[^/]+)/finalize/?$",
        ActivationFinalizeView.as_view(),
        name="api-activation-finalize",
    ),
    re_path(
        r"^activations/(?P<activation_id>[^/]+)/report/reasons/?$",
        ActivationReportReasonsView.as_view(),
        name="api-activation-report-reasons",
    ),
    re_path(
        r"^activations/(?P<activation_id>[^/]+)/report/?$", ActivationReportView.as_view(), name="api-activation-report"
    ),
    re_path(r"^price/?$", PriceView.as_view(), name="api-price"),
    re_path(r"^services/?$", ServicesView.as_view(), name="api-services"),
    re_path(r"^countries/?$", CountriesView.as_view(), name="api-countries"),
    re_path(r"^wallet/low-balance/?$", WalletLowBalanceView.as_view(), name="api-wallet-low-balance"),
    re_path(r"^webhooks/?$", WebhooksView.as_view(), name="api-webhooks"),
    re_path(r"^webhooks/(?P<endpoint_id>[^/]+)/?$", WebhookDetailView.as_view(), name="api-webhook"),
    re_path(r"^webhooks/(?P<endpoint_id>[^/]+)/rotate/?$", WebhookRotateView.as_view(), name="api-webhook-rotate"),
    re_path(r"^webhooks/(?P<endpoint_id>[^/]+)/disable/?$", WebhookDisableView.as_view(), name="api-webhook-disable"),
    re_path(r"^webhooks/(?P<endpoint_id>[^/]+)/enable/?$", WebhookEnableView.as_view(), name="api-webhook-enable"),
    re_path(r"^webhooks/(?P<endpoint_id>[^/]+)/test/?$", WebhookTestView.as_view(), name="api-webhook-test"),
    re_path(
        r"^webhooks/(?P<endpoint_id>[^/]+)/deliveries/?$",
        WebhookDeliveriesView.as_view(),
        name="api-webhook-deliveries",
    ),
    re_path(
        r"^webhooks/(?P<endpoint_id>[^/]+)/deliveries/(?P<delivery_id>[^/]+)/redeliver/?$",
        WebhookRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
    re_path(r"", api_not_found),
]
