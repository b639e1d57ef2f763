"""Ordering a number: quote, hold, order upstream (with the 409 MaxPriceExceeded continuation), record."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Tenant, User
from activations import errors, selectors
from activations.models import Activation, ReconciliationIssue
from activations.services.issues import issue_record
from activations.services.settlement import (
    Outcome,
    apply_upstream_state,
    ledger_reference,
    record_event,
    settlement_key,
)
from catalog import services as catalog
from catalog.errors import NoNumbers, UnknownServiceOrCountry, UpstreamNotConfigured
from catalog.upstream import client_for_tenant, fair_share_error
from core.errors import DomainError, InvalidInput, UpstreamUnavailable
from platfone import errors as upstream
from platfone.types import Activation as Snapshot
from wallet import services as wallet

logger = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=24)
TOO_LATE = "Our number supplier answered too late; nothing was charged. Try again."


def activation_create(
    *,
    user: User,
    service_id: str,
    country_id: str,
    max_price_cents: int | None = None,
    idempotency_key: str | None = None,
) -> Activation:
    """Order a number for ``user``: hold the sell price, order upstream, record the result.

    Guarantees: the hold is placed before the upstream call and released on every failure; the user's
    cap on active activations and the balance are checked under the wallet's row lock, so concurrent
    orders of one user cannot overspend or exceed the cap; with an ``idempotency_key`` the same user
    gets the first result back for 24 h and nothing new is ordered. A call whose outcome the upstream
    never told us (timeout, 5xx, garbage) is kept as ``lost`` for reconciliation and its hold released.
    Raises ``activations.errors.*``, the catalog's ``UnknownServiceOrCountry`` / ``NoNumbers``,
    ``UpstreamUnavailable`` and ``wallet.services.InsufficientBalance``.
    """
    tenant = user.tenant
    if tenant is None:
        raise InvalidInput("Only a storefront's users can order numbers.")
    request = {"service_id": service_id, "country_id": country_id, "max_price_cents": max_price_cents}
    if idempotency_key:
        existing = _replay(user=user, idempotency_key=idempotency_key, request=request)
        if existing is not None:
            return existing

    if selectors.tenant_success_rate_low(tenant=tenant) and not selectors.user_has_good_record(user=user):
        # A swarm of fresh accounts ordering and abandoning numbers would push the shared supplier account below
        # its 7 % line (a 24 h block for everyone): new accounts wait until the storefront's rate recovers.
        raise errors.SuccessRateGuard(
            "New orders from new accounts are paused for a while: too many numbers of this storefront ended "
            "without an SMS recently. Please try again later.",
            retry_after=selectors.SUCCESS_GUARD_RETRY_AFTER_SECONDS,
        )
    quote = catalog.price_quote(tenant=tenant, service_id=service_id, country_id=country_id, spender=f"user:{user.pk}")
    max_sell = max_price_cents if max_price_cents is not None else quote.sell_price_cents
    hold_amount = min(max_sell, quote.sell_price_cents)
    upstream_max: int | None
    if max_sell >= quote.sell_price_cents:
        upstream_max = quote.backend_cents
    else:
        upstream_max = quote.max_backend_for_sell(max_sell)
        if upstream_max is None:
            raise errors.MaxPriceTooLow(
                "max_price is below the lowest price we sell this number for.", suggested_cents=quote.sell_price_cents
            )

    try:
        activation = _open_order(
            user=user,
            tenant=tenant,
            service_id=service_id,
            country_id=country_id,
            sell_cents=hold_amount,
            max_sell=max_sell,
            idempotency_key=idempotency_key,
        )
    except IntegrityError:
        # The same Idempotency-Key won a concurrent race: hand back the winner's result.
        existing = _replay(user=user, idempotency_key=idempotency_key, request=request) if idempotency_key else None
        if existing is None:
            raise
        return existing

    return _order_upstream(activation, quote=quote, upstream_max=upstream_max, max_sell=max_sell)


def _replay(*, user: User, idempotency_key: str, request: dict) -> Activation | None:
    """The order this key already placed, if it should be answered again; None to order anew.

    A key older than 24 h, or one whose order failed (nothing was held or ordered), is released for reuse.
    The same key with a different request is refused rather than silently answered with another order.
    """
    existing = Activation.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    expired = timezone.now() - existing.created_at > IDEMPOTENCY_WINDOW
    if expired or existing.order_status in {Activation.OrderStatus.FAILED, Activation.OrderStatus.LOST}:
        Activation.objects.filter(pk=existing.pk).update(idempotency_key=None)
        return None
    original = {
        "service_id": existing.service_id,
        "country_id": existing.country_id,
        "max_price_cents": request["max_price_cents"]
        if request["max_price_cents"] is None
        else existing.max_price_cents,
    }
    if original != request:
        raise errors.IdempotencyKeyReused("This Idempotency-Key was used for a different order.")
    if existing.order_status == Activation.OrderStatus.ORDERING:
        raise errors.OrderInProgress("An order with this Idempotency-Key is still being placed; try again shortly.")
    return existing


@transaction.atomic
def _open_order(
    *,
    user: User,
    tenant: Tenant,
    service_id: str,
    country_id: str,
    sell_cents: int,
    max_sell: int,
    idempotency_key: str | None,
) -> Activation:
    activation = Activation.objects.create(
        tenant=tenant,
        user=user,
        idempotency_key=idempotency_key or None,
        service_id=service_id,
        country_id=country_id,
        sell_price_cents=sell_cents,
        max_price_cents=max_sell,
    )
    # place_hold locks the user's wallet row until commit: concurrent orders of this user queue up here,
    # so the cap below is counted with every earlier order of the user already visible.
    hold = wallet.place_hold(
        user=user,
        amount_cents=sell_cents,
        idempotency_key=settlement_key(activation.pk, f"hold:{sell_cents}"),
        reference=ledger_reference(activation.pk),
        description=f"Order {service_id} {country_id} #{activation.pk}",
        new_key=True,  # named after the activation this transaction has just inserted
    )
    open_count, below_floor = selectors.user_order_limits(user=user)
    open_orders = open_count - 1  # without this order
    cap = tenant.max_active_activations_per_user
    if below_floor:
        # Ordering and abandoning many numbers drags the shared upstream account towards its 7 % block.
        cap = 1
    if open_orders >= cap:
        raise errors.ActiveLimitReached(
            f"You already have {open_orders} active activations (the limit is {cap}). "
            "Wait for them to finish or cancel one.",
            limit=cap,
        )
    activation.hold_id = hold.pk
    activation.save(update_fields=["hold_id"])
    record_event(activation.pk, actor=f"user:{user.pk}", kind="ordered", sell_cents=sell_cents, max_sell=max_sell)
    return activation


def _order_upstream(
    activation: Activation, *, quote: catalog.PriceQuote, upstream_max: int, max_sell: int
) -> Activation:
    actor = f"user:{activation.user_id}"
    service_id, country_id = activation.service_id, activation.country_id
    try:
        client = client_for_tenant(activation.tenant, spender=actor)
        try:
            snapshot = client.create_activation(service_id=service_id, country_id=country_id, max_price=upstream_max)
        except upstream.MaxPriceExceeded as exc:
            suggested_sell = quote.sell(exc.suggested_price)
            if suggested_sell > max_sell:
                _fail(activation, "max_price_exceeded", actor=actor)
                raise errors.MaxPriceTooLow(
                    "No number is available within your max_price right now.", suggested_cents=suggested_sell
                ) from exc
            _rehold(activation, amount=suggested_sell, actor=actor)  # OrderClosed if beat closed it meanwhile
            snapshot = client.create_activation(
                service_id=service_id, country_id=country_id, max_price=exc.suggested_price, order_id=exc.order_id
            )
    except wallet.InsufficientBalance:
        _fail(activation, "insufficient_balance_on_reprice", actor=actor)
        raise
    except OrderClosed as exc:
        raise UpstreamUnavailable(TOO_LATE) from exc
    except upstream.NoNumbersAvailable as exc:
        _fail(activation, "no_numbers", actor=actor)
        raise NoNumbers() from exc
    except upstream.MaxPriceExceeded as exc:
        _fail(activation, "max_price_exceeded", actor=actor)
        raise errors.MaxPriceTooLow(
            "No number is available within your max_price right now.", suggested_cents=quote.sell(exc.suggested_price)
        ) from exc
    except (upstream.NotFound, upstream.BadRequest) as exc:
        _fail(activation, f"refused: {exc.error_name or exc.status}", actor=actor)
        raise UnknownServiceOrCountry("The supplier does not offer this service and country.") from exc
    except upstream.FairShareExceeded as exc:
        _fail(activation, "fair share of the supplier budget used", actor=actor)
        raise fair_share_error(exc) from exc
    except upstream.UpstreamUnavailable as exc:
        # The order may have reached the upstream: keep it for reconciliation, give the user their money back.
        apply_upstream_state(activation, None, actor=actor, outcome=Outcome(order_status="lost", order_error=str(exc)))
        raise UpstreamUnavailable(
            "Our number supplier did not answer; nothing was charged. Try again shortly."
        ) from exc
    except upstream.PlatfoneError as exc:
        # Rate limits, the 20-active cap, an account on hold, our own upstream balance: not the user's fault.
        logger.error("activation %s: upstream refused the order: %r", activation.pk, exc)
        _fail(activation, f"upstream: {exc.error_name or type(exc).__name__}", actor=actor)
        raise UpstreamUnavailable(
            "Our number supplier cannot take orders right now; nothing was charged. Try again shortly.",
            retry_after=getattr(exc, "retry_after", None),
        ) from exc
    except UpstreamNotConfigured:
        _fail(activation, "upstream not configured", actor=actor)
        raise
    except DomainError:
        raise  # an answer decided above (the 409 of a repriced order the user's max_price cannot cover)
    except BaseException:
        # Anything unforeseen (a bug, a lost database connection, a worker shutdown): the order may have
        # reached the upstream, so it is kept as lost for reconciliation and the user's hold is released.
        logger.exception("activation %s: unexpected failure while ordering", activation.pk)
        apply_upstream_state(activation, None, actor=actor, outcome=Outcome(order_status="lost", order_error="crash"))
        raise

    final_sell = (
        quote.sell_price_cents
        if snapshot.price <= quote.backend_cents and quote.sell_price_cents <= max_sell
        else quote.sell(snapshot.price)
    )
    placed = _record_placed(activation, snapshot, final_sell=final_sell, actor=actor)
    if placed is not None:
        return placed
    # The order was closed while the supplier's answer was on its way, and cannot be adopted: let it go.
    _let_go(activation, snapshot, client=client, actor=actor)
    raise UpstreamUnavailable(TOO_LATE)


def _record_placed(activation: Activation, snapshot: Snapshot, *, final_sell: int, actor: str) -> Activation | None:
    """Record the supplier's answer on our order, under its row lock. An order still being placed is placed on
    its hold (lowered to ``final_sell`` when cheaper: never more than held, if the upstream billed above the
    max_price we sent, the reseller absorbs the difference). One the beat closed as lost meanwhile is adopted
    only on a fresh hold; None when it cannot be (too little balance now, or closed for good)."""
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Activation.objects.select_for_update(of=("self",)).select_related("user", "tenant").get(pk=activation.pk)
        )
        if locked.order_status == Activation.OrderStatus.ORDERING:
            if final_sell < locked.sell_price_cents:
                _rehold(locked, amount=final_sell, actor=actor)
                locked = Activation.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=locked.pk)
            # The supplier's price is the order's cost, whatever was recorded while ordering.
            locked.price_cents = None
            return apply_upstream_state(
                locked, snapshot, actor=actor, outcome=Outcome(order_status="placed", synced_at=now), row_locked=True
            )
        if locked.order_status != Activation.OrderStatus.LOST:
            return None
        try:
            with transaction.atomic():
                hold = wallet.place_hold(
                    user=locked.user,
                    amount_cents=final_sell,
                    idempotency_key=settlement_key(locked.pk, "hold:adopted"),
                    reference=ledger_reference(locked.pk),
                    description=f"Order {locked.service_id} {locked.country_id} #{locked.pk} (answered late)",
                )
                Activation.objects.filter(pk=locked.pk).update(
                    price_cents=snapshot.price, sell_price_cents=final_sell, last_synced_at=now
                )
                record_event(locked.pk, actor=actor, kind="adopted", hold_cents=final_sell)
                return apply_upstream_state(
                    locked.pk,
                    snapshot,
                    actor=actor,
                    outcome=Outcome(order_status="placed", adopt_hold_id=hold.pk),
                )
        except wallet.InsufficientBalance:
            return None


def _let_go(activation: Activation, snapshot: Snapshot, *, client, actor: str) -> None:
    """A supplier activation nobody holds money for: record it on the closed order (it settles as a late answer:
    never charged to the user), cancel it upstream when it can be, and tell operators; reconciliation cancels
    or finalizes it later if it cannot be canceled yet."""
    action = "left to reconciliation (not cancelable yet)"
    if snapshot.can_cancel(int(timezone.now().timestamp())):
        try:
            client.cancel_activation(snapshot.activation_id)
            action = "canceled upstream"
        except upstream.PlatfoneError as exc:
            action = f"left to reconciliation: {type(exc).__name__}"
    apply_upstream_state(activation.pk, snapshot, actor=actor)
    issue_record(
        activation.tenant,
        ReconciliationIssue.Kind.LATE_ORDER_ANSWER,
        snapshot.activation_id,
        activation=activation,
        detail={"price_cents": snapshot.price, "order_status": Activation.objects.get(pk=activation.pk).order_status},
        action=action,
    )


def _fail(activation: Activation, reason: str, *, actor: str) -> None:
    apply_upstream_state(activation, None, actor=actor, outcome=Outcome(order_status="failed", order_error=reason))


class OrderClosed(Exception):
    """The order was closed (as lost, by the beat) while its supplier call was on its way: no new hold."""


@transaction.atomic
def _rehold(activation: Activation, *, amount: int, actor: str) -> None:
    """Replace the order's hold by one of ``amount`` (the price moved). Raises InsufficientBalance, and
    ``OrderClosed`` for an order no longer being placed (a hold placed on it would never be released)."""
    locked = Activation.objects.select_for_update(of=("self",)).select_related("user").get(pk=activation.pk)
    if locked.order_status != Activation.OrderStatus.ORDERING:
        raise OrderClosed(locked.order_status)
    if locked.sell_price_cents == amount:
        return
    if locked.hold_id is not None:
        wallet.release_hold(hold_id=locked.hold_id)
    hold = wallet.place_hold(
        user=locked.user,
        amount_cents=amount,
        # One key per replacement: a price that moves A -> B -> A must not find A's released hold again.
        idempotency_key=settlement_key(locked.pk, f"hold:{amount}:after:{locked.hold_id}"),
        reference=ledger_reference(locked.pk),
        description=f"Order #{locked.pk} repriced",
    )
    record_event(locked.pk, actor=actor, kind="repriced", old_cents=locked.sell_price_cents, new_cents=amount)
    Activation.objects.filter(pk=locked.pk).update(hold_id=hold.pk, sell_price_cents=amount)
    activation.hold_id, activation.sell_price_cents = hold.pk, amount
