"""The dashboard's figures on a seeded data set, computed in the database with a bounded number of queries,
cached briefly; and the page itself for tenant staff and platform superusers."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console import selectors
from tests.console.conftest import SMS, make_activation

pytestmark = pytest.mark.django_db


def figures_dict(f):
    return {
        "orders": f.orders,
        "code_received": f.code_received,
        "canceled": f.canceled,
        "expired": f.expired,
        "refunded": f.refunded,
        "finished": f.finished,
        "charged": f.charged_cents,
        "refunds": f.refunded_cents,
        "revenue": f.revenue_cents,
        "cost": f.supplier_cost_cents,
        "margin": f.margin_cents,
        "margin_pct": f.margin_percent,
        "refund_loss": f.refund_loss_cents,
        "success": f.success_rate_percent,
    }


def test_the_figures_of_a_seeded_data_set(seeded, tenant):
    figures = selectors.business_figures(tenant_id=tenant.pk)

    assert figures_dict(figures.periods["today"]) == {
        "orders": 4,
        "code_received": 2,
        "canceled": 1,
        "expired": 0,
        "refunded": 1,
        "finished": 3,
        "charged": 200,
        "refunds": 100,
        "revenue": 100,
        "cost": 120,
        "margin": -20,
        "margin_pct": -20.0,
        "refund_loss": 60,
        "success": 66.7,
    }
    assert figures_dict(figures.periods["7 days"]) == {
        "orders": 7,
        "code_received": 4,
        "canceled": 1,
        "expired": 1,
        "refunded": 2,
        "finished": 6,
        "charged": 550,
        "refunds": 200,
        "revenue": 350,
        "cost": 270,
        "margin": 80,
        "margin_pct": 22.9,
        "refund_loss": 60,
        "success": 66.7,
    }
    assert figures_dict(figures.periods["30 days"]) == {
        "orders": 8,
        "code_received": 5,
        "canceled": 1,
        "expired": 1,
        "refunded": 2,
        "finished": 7,
        "charged": 850,
        "refunds": 200,
        "revenue": 650,
        "cost": 470,
        "margin": 180,
        "margin_pct": 27.7,
        "refund_loss": 60,
        "success": 71.4,
    }
    assert len(figures.days) == 30 and figures.days[-1][1].orders == 4
    assert sum(f.orders for _, f in figures.days) == 8

    def ranked(rows):
        return [(row.label, row.figures.revenue_cents, row.figures.failure_rate_percent) for row in rows]

    assert ranked(figures.top_services_by_revenue) == [("whatsapp", 400, 0.0), ("telegram", 250, 66.7)]
    assert ranked(figures.top_countries_by_revenue) == [("de", 300, 0.0), ("gb", 250, 66.7), ("us", 100, 0.0)]
    assert ranked(figures.top_services_by_failure) == [("telegram", 250, 66.7), ("whatsapp", 400, 0.0)]
    assert ranked(figures.top_countries_by_failure) == [("gb", 250, 66.7), ("us", 100, 0.0)]
    assert [(row.label, row.figures.revenue_cents) for row in figures.top_users] == [
        ("alice@example.com", 400),
        ("bob@example.com", 250),
    ]


def test_all_tenants_add_up(seeded, tenant, other_tenant):
    everyone = selectors.business_figures(tenant_id=None).periods["today"]
    acme = selectors.business_figures(tenant_id=tenant.pk).periods["today"]
    globex = selectors.business_figures(tenant_id=other_tenant.pk).periods["today"]
    assert everyone == acme + globex
    assert globex.revenue_cents == 5000


def test_the_figures_take_four_queries_whatever_the_data(seeded, tenant, alice, django_assert_num_queries):
    with django_assert_num_queries(4):
        selectors.business_figures(tenant_id=tenant.pk)
    for _ in range(30):
        make_activation(alice, service_id="extra", activation_status="finalized", billing_status="billed", **SMS)
    with django_assert_num_queries(4):
        selectors.business_figures(tenant_id=tenant.pk)


def dashboard_queries(client) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return len(queries)


def test_the_dashboard_page_has_a_bounded_number_of_queries(staff_client, emulator, seeded, alice):
    # given the page's cost on the seeded data
    staff_before = dashboard_queries(staff_client)
    # when the data grows
    for _ in range(25):
        make_activation(alice, service_id="more", activation_status="finalized", billing_status="billed", **SMS)
    # then the page costs the same
    assert dashboard_queries(staff_client) == staff_before <= 30


def test_the_superuser_page_costs_a_fixed_number_of_queries_per_tenant(client, operator, emulator, seeded, alice):
    client.force_login(operator)
    before = dashboard_queries(client)
    for _ in range(25):
        make_activation(alice, service_id="more", activation_status="finalized", billing_status="billed", **SMS)
    assert dashboard_queries(client) == before <= 40


def test_the_figures_are_cached_briefly(staff_client, emulator, seeded, alice, settings):
    first = staff_client.get(reverse("admin:index")).context["console"]["figures"]
    make_activation(alice, activation_status="finalized", billing_status="billed", **SMS)
    cached = staff_client.get(reverse("admin:index")).context["console"]["figures"]
    assert cached.periods["today"].orders == first.periods["today"].orders == 4
    cache.delete(f"console:dashboard:{alice.tenant_id}:{timezone.localdate().isoformat()}")
    fresh = staff_client.get(reverse("admin:index")).context["console"]["figures"]
    assert fresh.periods["today"].orders == 5


def test_tenant_staff_see_their_tenant_and_its_supplier_account(staff_client, emulator, seeded, tenant):
    response = staff_client.get(reverse("admin:index"))
    page = response.content.decode()
    console = response.context["console"]
    assert console["tenant"] == tenant and not console["is_platform"]
    assert "$1.00" in page  # today's revenue
    assert "$50.00" not in page  # globex's sale
    [account] = console["accounts"]
    assert account.tenant_slug == "acme"
    assert (account.balance.total_cents, account.balance.reserved_cents) == (500_000, 0)
    assert (account.active_used, account.active_limit) == (1, 20)
    assert account.finished_24h == 3 and account.succeeded_24h == 2
    assert 'data-testid="supplier-globex"' not in page
    assert "get_activation" in page  # the rate budget per method


def test_superusers_see_all_tenants_and_can_focus_on_one(super_client, emulator, seeded, tenant, other_tenant):
    everyone = super_client.get(reverse("admin:index"))
    assert everyone.context["console"]["is_platform"]
    assert [a.tenant_slug for a in everyone.context["console"]["accounts"]] == ["acme", "globex"]
    assert everyone.context["console"]["figures"].periods["today"].revenue_cents == 5100
    one = super_client.get(reverse("admin:index"), {"tenant": other_tenant.pk})
    assert one.context["console"]["figures"].periods["today"].revenue_cents == 5000
    assert [a.tenant_slug for a in one.context["console"]["accounts"]] == ["globex"]


def test_the_supplier_balance_is_cached(staff_client, emulator, seeded):
    staff_client.get(reverse("admin:index"))
    staff_client.get(reverse("admin:index"))
    assert emulator.request_count("balance") == 1


def test_the_success_rate_near_the_block_line_is_flagged(tenant, alice):
    from console.supplier import supplier_account

    # given 1 SMS in 20 finished orders (5 %, under the 7 % line)
    make_activation(
        alice, activation_status="finalized", billing_status="billed", sms_received_at=timezone.now(), **SMS
    )
    for _ in range(19):
        make_activation(alice, activation_status="canceled", billing_status="released")
    account = supplier_account(tenant)
    assert account.success_rate_percent == 5.0 and account.success_rate_state == "below"
