"""Random sequences of everything that can happen to activations keep the money invariants (hypothesis).

The machine drives orders, SMS (first and again), retries, cancels, finalizes, supplier-side expiry, reports
approved or declined, webhooks (delivered, held back, duplicated and out of order), polls, beat runs,
reconciliation, time passing and injected supplier faults (timeouts before and after the call, 5xx, garbage,
429). After every step:

- each activation is charged at most once, and refunded at most as much as it was charged;
- no hold is left on an activation that can no longer receive an SMS, and no charge exists without an SMS;
- every entry sums to zero and every cached balance equals its postings (``verify_ledger``);
- the reseller's margin on each activation is sell - cost, or a booked, named loss (a refund loss or a late
  SMS recorded for operators);
- settlement has converged: what the stored state calls for (a charge, a release, a refund) is done.

CI runs a bounded number of examples (on PostgreSQL and SQLite); ``SETTLEMENT_PROPERTY_EXAMPLES=500 make test
PYTEST_ARGS=tests/activations/test_settlement_properties.py`` runs a long one.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from accounts.models import Tenant
from activations import selectors, services, tasks
from activations.models import Activation, ReconciliationIssue
from catalog import services as catalog_services
from catalog import upstream
from core.errors import DomainError
from platfone.emulator import Emulator, EmulatorError, emulator_session
from tests.factories import TenantFactory, UserFactory
from tests.supplier_webhooks import post_supplier_webhook
from wallet import selectors as wallet_selectors
from wallet import services as wallet
from wallet.models import JournalEntry

UPSTREAM_KEY = "machine-upstream"
SECRET = "whsec-machine"
FUNDS = 5000
PAIRS = [("whatsapp", "us"), ("telegram", "uk"), ("google", "de")]
FAULT_KINDS = ["timeout", "error", "garbage", "ratelimit"]
FAULT_ENDPOINTS = [
    "create_activation",
    "get_activation",
    "cancel_activation",
    "finalize_activation",
    "retry_activation",
]
EXAMPLES = int(os.environ.get("SETTLEMENT_PROPERTY_EXAMPLES", "25"))


class RolledBack(Exception):
    """Ends one example: its database changes are rolled back."""


class SettlementMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        cache.clear()
        self.offset = timedelta(0)
        self.real_now = timezone.now
        timezone.now = lambda: self.real_now() + self.offset
        self.real_factory = upstream.session_factory
        self.emulator = Emulator(
            api_keys={UPSTREAM_KEY: 10_000_000},
            rate_limits=False,
            success_rate_block=False,
            webhook_url="http://reseller.test/webhooks/platfone/machine/",
            webhook_secret=SECRET,
            webhook_sender=self.send_webhook,
            cancel_delay=0,
        )
        self.webhooks_down = True  # the supplier's news arrives by polls and the beat until a rule turns them on
        upstream.session_factory = lambda tenant: emulator_session(self.emulator)
        self.tenant = TenantFactory(slug="machine")
        Tenant.objects.filter(pk=self.tenant.pk).update(
            platfone_base_url="http://platfone.test/api/v1",
            platfone_api_key=UPSTREAM_KEY,
            platfone_webhook_secret=SECRET,
            rate_limit_per_minute=10**6,
            max_refunds_after_sms_per_day=2,
        )
        self.tenant.refresh_from_db()
        catalog_services.catalog_sync(tenant=self.tenant)
        self.users = [UserFactory(tenant=self.tenant) for _ in range(2)]
        for n, user in enumerate(self.users):
            wallet.deposit(user=user, amount_cents=FUNDS, idempotency_key=f"machine:fund:{n}", actor="test")

    # --- the world ------------------------------------------------------------------------------------------

    def send_webhook(self, url, headers, body):
        if self.webhooks_down:
            return 503
        return post_supplier_webhook("/webhooks/platfone/machine/", body, headers).status_code

    def activations(self):
        return list(Activation.objects.filter(tenant=self.tenant).order_by("pk"))

    def placed(self):
        return [a for a in self.activations() if a.order_status == "placed" and a.upstream_id]

    def attempt(self, action, *args, **kwargs):
        """Run an action as a client would: refusals and supplier faults are answers, never crashes."""
        try:
            return action(*args, **kwargs)
        except (DomainError, EmulatorError):
            return None

    # --- rules: users ---------------------------------------------------------------------------------------

    @rule(user=st.integers(0, 1), pair=st.sampled_from(PAIRS), max_price=st.sampled_from([None, None, 50, 10000]))
    def order(self, user, pair, max_price):
        self.attempt(
            services.activation_create,
            user=self.users[user],
            service_id=pair[0],
            country_id=pair[1],
            max_price_cents=max_price,
        )

    @precondition(lambda self: self.placed())
    @rule(data=st.data(), action=st.sampled_from(["poll", "cancel", "retry", "finalize", "report_reasons"]))
    def user_acts(self, data, action):
        activation = data.draw(st.sampled_from(self.placed()))
        actor = f"user:{activation.user_id}"
        if action == "poll":
            Activation.objects.filter(pk=activation.pk).update(last_synced_at=None, next_sync_at=None)
            self.attempt(services.activation_refresh, activation=activation, actor=actor)
        elif action == "cancel":
            self.attempt(services.activation_cancel, activation=activation, actor=actor)
        elif action == "retry":
            self.attempt(services.activation_retry, activation=activation, actor=actor)
        elif action == "finalize":
            self.attempt(services.activation_finalize, activation=activation, actor=actor)
        else:
            self.attempt(services.activation_report_reasons, activation=activation, actor=actor)

    @precondition(lambda self: self.placed())
    @rule(data=st.data())
    def user_reports(self, data):
        activation = data.draw(st.sampled_from(self.placed()))
        reasons = self.attempt(self.emulator.report_reasons, UPSTREAM_KEY, activation.upstream_id) or []
        if reasons:
            self.attempt(
                services.activation_report,
                activation=activation,
                reason_id=reasons[0]["reason_id"],
                message="property",
                evidence=None,
                actor=f"user:{activation.user_id}",
            )

    # --- rules: the supplier --------------------------------------------------------------------------------

    @precondition(lambda self: self.emulator.activations(UPSTREAM_KEY))
    @rule(data=st.data(), event=st.sampled_from(["sms", "sms", "expire", "report", "approve", "decline"]))
    def supplier_acts(self, data, event):
        upstream_id = data.draw(st.sampled_from([a["activation_id"] for a in self.emulator.activations(UPSTREAM_KEY)]))
        if event == "sms":
            self.attempt(self.emulator.deliver_sms, upstream_id)
        elif event == "expire":
            self.attempt(self.emulator.expire_activation, upstream_id)
        elif event == "report":
            # a report we never read back (our read after filing it failed, or support filed it upstream)
            reasons = self.attempt(self.emulator.report_reasons, UPSTREAM_KEY, upstream_id) or []
            if reasons:
                self.attempt(self.emulator.create_report, UPSTREAM_KEY, upstream_id, reason_id=reasons[0]["reason_id"])
        else:
            self.attempt(self.emulator.decide_report, upstream_id, approve=event == "approve")

    @rule(down=st.booleans())
    def webhooks_go(self, down):
        self.webhooks_down = down

    @precondition(lambda self: self.emulator.webhook_deliveries())
    @rule(data=st.data())
    def webhook_replayed(self, data):
        """An old event delivered again (duplicated, and out of order with the newer ones)."""
        event = data.draw(st.sampled_from(self.emulator.webhook_deliveries()))
        if not self.webhooks_down:
            self.attempt(self.emulator.redeliver, event["id"])

    @rule(kind=st.sampled_from(FAULT_KINDS), endpoint=st.sampled_from(FAULT_ENDPOINTS), after=st.booleans())
    def supplier_fault(self, kind, endpoint, after):
        spec = {"kind": kind, "endpoint": endpoint, "count": 1}
        if kind == "timeout":
            spec.update(when="after" if after else "before", seconds=0)
        self.emulator.add_fault(**spec)

    # --- rules: time and the beat ---------------------------------------------------------------------------

    @rule(minutes=st.sampled_from([1, 5, 25]))
    def time_passes(self, minutes):
        self.offset += timedelta(minutes=minutes)
        self.emulator.advance_clock(minutes * 60)
        cache.clear()  # budgets and webhook-health flags belong to the minute they were counted in

    @rule(job=st.sampled_from(["sync_due", "expire_overdue", "finalize_due", "reconcile"]))
    def beat_runs(self, job):
        getattr(tasks, job)()

    # --- invariants -----------------------------------------------------------------------------------------

    @invariant()
    def each_activation_is_charged_at_most_once_and_refunded_at_most_what_it_was_charged(self):
        for activation in self.activations():
            money = wallet_selectors.reference_money(tenant=self.tenant, reference=f"activation:{activation.pk}")
            charges = JournalEntry.objects.filter(reference=f"activation:{activation.pk}", kind="charge").count()
            assert charges <= 1, activation
            assert 0 <= money.refunded_cents <= money.charged_cents, (activation, money)

    @invariant()
    def settlement_has_converged(self):
        """What the stored state calls for has been done, in the call that stored it."""
        for a in self.activations():
            if a.order_status != "placed":
                continue
            approved = a.upstream_billing_status == "refunded" or a.report_status == "approved"
            assert not (a.billing_status == "billed" and approved), a  # an approved report not refunded yet
            assert not (a.billing_status == "held" and a.sms_received), a  # an SMS not charged yet
            assert not (a.billing_status == "held" and a.activation_status in ("expired", "canceled")), a

    @invariant()
    def holds_and_charges_agree_with_the_activations(self):
        assert selectors.settlement_problems(tenant=self.tenant) == []

    @invariant()
    def the_ledger_balances(self):
        report = wallet_selectors.verify_ledger()
        assert report.ok, (report.drifted_accounts, report.unbalanced_entries)

    @invariant()
    def the_margin_is_sell_minus_cost_or_a_named_loss(self):
        late = set(
            ReconciliationIssue.objects.filter(tenant=self.tenant, kind="late_sms").values_list(
                "activation_id", flat=True
            )
        )
        for a in self.activations():
            money = wallet_selectors.reference_money(tenant=self.tenant, reference=f"activation:{a.pk}")
            if a.billing_status == "billed":
                assert money.margin_cents == a.sell_price_cents - money.upstream_cost_cents, (a, money)
                assert money.upstream_cost_cents == (a.price_cents or 0), (a, money)
            elif a.billing_status == "refunded":
                # the supplier refunded too (margin 0), or kept its price: a booked refund loss
                assert money.revenue_cents == 0 and money.upstream_cost_cents == 0, (a, money)
                assert money.refund_loss_cents in (0, a.price_cents or 0), (a, money)
            elif a.billing_status == "released":
                assert money.revenue_cents == 0, (a, money)
                assert money.upstream_cost_cents == 0 or a.pk in late, (a, money)  # a late SMS, told to operators
            else:  # held: nothing moved yet
                assert (money.charged_cents, money.upstream_cost_cents, money.refund_loss_cents) == (0, 0, 0), a

    def teardown(self) -> None:
        try:
            self.emulator.close()
        finally:
            timezone.now = self.real_now
            upstream.session_factory = self.real_factory
            self.atomic.__exit__(RolledBack, RolledBack(), None)


@pytest.mark.django_db
def test_random_histories_keep_every_settlement_invariant():
    run_state_machine_as_test(
        SettlementMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
