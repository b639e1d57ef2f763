"""Markup: integer cents, never below cost + margin, monotone, the most specific rule wins, and its inverse."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import selectors, services
from catalog.markup import DEFAULT_TERMS, MAX_BACKEND_CENTS, MarkupTerms, Rounding, round_up
from catalog.models import MarkupRule

costs = st.integers(min_value=0, max_value=100_000)
terms = st.builds(
    MarkupTerms,
    percent_bp=st.integers(min_value=0, max_value=100_000),
    fixed_cents=st.integers(min_value=0, max_value=10_000),
    min_margin_cents=st.integers(min_value=0, max_value=10_000),
    rounding=st.sampled_from(Rounding.values),
)


@given(terms=terms, cost=costs)
def test_the_sell_price_is_integer_cents_never_below_cost_plus_margin(terms, cost):
    sell = terms.sell(cost)
    assert type(sell) is int
    assert sell >= cost + terms.min_margin_cents
    assert sell >= cost + terms.fixed_cents
    assert sell * 10_000 >= cost * (10_000 + terms.percent_bp)  # the percentage is never rounded away


@given(terms=terms, cost=costs, more=st.integers(min_value=0, max_value=10_000))
def test_the_sell_price_is_monotone_in_the_cost(terms, cost, more):
    assert terms.sell(cost) <= terms.sell(cost + more)


@given(terms=terms, cost=costs)
def test_rounding_lands_on_the_promised_amounts(terms, cost):
    sell = terms.sell(cost)
    if terms.rounding == Rounding.END_9:
        assert sell % 10 == 9
    elif terms.rounding == Rounding.END_99:
        assert sell % 100 == 99
    elif terms.rounding == Rounding.MULTIPLE_5:
        assert sell % 5 == 0
    elif terms.rounding == Rounding.MULTIPLE_10:
        assert sell % 10 == 0
    elif terms.rounding == Rounding.MULTIPLE_100:
        assert sell % 100 == 0


@given(cents=st.integers(min_value=0, max_value=1_000_000), rounding=st.sampled_from(Rounding.values))
def test_rounding_goes_up_to_the_nearest_allowed_amount(cents, rounding):
    rounded = round_up(cents, rounding)
    assert rounded >= cents
    # nothing between cents and the result would do
    assert all(round_up(candidate, rounding) != candidate for candidate in range(cents, rounded))


@given(terms=terms, max_sell=st.integers(min_value=0, max_value=30_000))
def test_max_backend_for_sell_is_the_exact_inverse(terms, max_sell):
    cost = terms.max_cost_for(max_sell)
    if cost is None:
        assert terms.sell(1) > max_sell
    else:
        assert 1 <= cost <= MAX_BACKEND_CENTS
        assert terms.sell(cost) <= max_sell
        assert cost == MAX_BACKEND_CENTS or terms.sell(cost + 1) > max_sell


@pytest.mark.parametrize(
    ("rule", "cost", "sell"),
    [
        (MarkupTerms(), 260, 286),
        (MarkupTerms(), 5, 6),
        (MarkupTerms(), 1, 2),
        (MarkupTerms(percent_bp=1000, rounding=Rounding.END_9), 260, 289),
        (MarkupTerms(percent_bp=0, fixed_cents=25), 260, 285),
        (MarkupTerms(percent_bp=500, min_margin_cents=20), 100, 120),
        (MarkupTerms(percent_bp=1050), 100, 111),  # 10.5 % of 100 is 10.5 cents: rounded up
        (MarkupTerms(percent_bp=2000, rounding=Rounding.MULTIPLE_5), 101, 125),
        (MarkupTerms(percent_bp=2000, rounding=Rounding.END_99), 101, 199),
        (MarkupTerms(percent_bp=2000, rounding=Rounding.MULTIPLE_100), 100, 200),
    ],
)
def test_worked_examples(rule, cost, sell):
    assert rule.sell(cost) == sell


def test_the_built_in_default_is_10_percent_with_a_1_cent_minimum():
    assert (DEFAULT_TERMS.percent_bp, DEFAULT_TERMS.fixed_cents, DEFAULT_TERMS.min_margin_cents) == (1000, 0, 1)
    assert DEFAULT_TERMS.rounding == Rounding.NONE


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_a_cost_must_be_non_negative_integer_cents(bad):
    with pytest.raises(ValueError):
        DEFAULT_TERMS.sell(bad)


def test_terms_refuse_negative_numbers_and_unknown_rounding():
    with pytest.raises(ValueError):
        MarkupTerms(percent_bp=-1)
    with pytest.raises(ValueError):
        MarkupTerms(rounding="banker")


@pytest.mark.django_db
class TestRuleSelection:
    def rule(self, tenant, service_id="", country_id="", percent_bp=0, fixed_cents=0):
        return services.markup_rule_save(
            rule=MarkupRule(
                tenant=tenant,
                service_id=service_id,
                country_id=country_id,
                percent_bp=percent_bp,
                fixed_cents=fixed_cents,
                min_margin_cents=0,
            )
        )

    def sell(self, tenant, service_id, country_id, cost=1000):
        return selectors.markup_terms_for(tenant=tenant, service_id=service_id, country_id=country_id).sell(cost)

    def test_a_tenant_without_rules_sells_at_the_built_in_default(self, tenant):
        assert self.sell(tenant, "whatsapp", "us", 260) == 286

    def test_the_most_specific_rule_wins(self, tenant, other_tenant):
        # given one rule of each scope, each adding a different fixed amount
        self.rule(tenant, fixed_cents=1)
        self.rule(tenant, country_id="us", fixed_cents=2)
        self.rule(tenant, service_id="whatsapp", fixed_cents=3)
        self.rule(tenant, service_id="whatsapp", country_id="us", fixed_cents=4)
        self.rule(other_tenant, service_id="whatsapp", country_id="uk", fixed_cents=99)
        # then
        assert self.sell(tenant, "whatsapp", "us") == 1004
        assert self.sell(tenant, "whatsapp", "uk") == 1003
        assert self.sell(tenant, "telegram", "us") == 1002
        assert self.sell(tenant, "telegram", "uk") == 1001
        assert self.sell(other_tenant, "telegram", "uk") == 1100  # no rule of its own: the built-in default

    # The tenant fixture is shared by the examples on purpose; each example starts by deleting its rules.
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(scopes=st.sets(st.sampled_from(["", "s", "c", "sc"]), min_size=1))
    def test_the_winner_is_always_the_most_specific_existing_rule(self, tenant, scopes):
        # given rules for a random subset of the four scopes; the fixed amount says which scope it is
        MarkupRule.objects.filter(tenant=tenant).delete()
        amount = {"": 1, "c": 2, "s": 3, "sc": 4}
        for scope in scopes:
            self.rule(
                tenant,
                service_id="whatsapp" if "s" in scope else "",
                country_id="us" if "c" in scope else "",
                fixed_cents=amount[scope],
            )
        # then
        assert self.sell(tenant, "whatsapp", "us") - 1000 == max(amount[scope] for scope in scopes)

    def test_max_backend_for_sell_uses_the_pairs_rule(self, tenant):
        self.rule(tenant, service_id="whatsapp", percent_bp=10_000)  # doubles the cost

        def max_backend_for_sell(service_id, max_sell_cents):
            terms = selectors.markup_terms_for(tenant=tenant, service_id=service_id, country_id="us")
            return terms.max_cost_for(max_sell_cents)

        assert max_backend_for_sell("whatsapp", 500) == 250
        assert max_backend_for_sell("telegram", 500) == 454  # default: 454 → 500, 455 → 501
        assert max_backend_for_sell("whatsapp", 1) is None

    def test_a_rule_with_an_invalid_scope_is_refused(self, tenant):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            self.rule(tenant, service_id="what's app")
        with pytest.raises(ValidationError):
            self.rule(tenant, country_id="u")
