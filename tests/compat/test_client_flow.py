"""A real third-party SMS-Activate client from PyPI (aiosmsactivate) drives the whole flow against the live
server (``tests/compat/live.py``), with the emulator delivering the SMS. The client's own parsing is the judge
of our format: it raises on anything it does not understand."""

from __future__ import annotations

import asyncio

import pytest
from aiosmsactivate import SmsActivate, SmsActivateException
from aiosmsactivate.models import ActivationData, Number, SetActivationStatusResponse
from aiosmsactivate.types import ActivationStatus, SetActivationStatus

pytestmark = pytest.mark.server


def cents(dollars: float) -> int:
    return round(dollars * 100)


def test_the_client_orders_reads_the_code_completes_orders_again_and_cancels(live):
    key = live.take()

    async def flow():
        client = SmsActivate(key, base_url=live.handler_url)
        # balance
        start = cents(await client.get_balance())
        assert start == 5000

        # order (getNumberV2)
        number = await client.purchase("wa", country=187)
        assert isinstance(number, Number), number
        assert number.country_code == "187" and number.phone_number.isdigit() and number.operator == "any"
        cost = cents(number.activation_cost)
        assert cost > 0

        # status while waiting, both versions
        assert await client.get_activation_status_v1(number.activation_id) == (ActivationStatus.WAIT, None)
        waiting = await client.get_activation_status(number.activation_id)
        assert isinstance(waiting, ActivationData) and waiting.sms is None and waiting.verification_type == 0

        # the service sends its SMS: the emulator delivers it (and tells our server by webhook)
        live.deliver_sms(key, number.activation_id, code="735911", text="Your WhatsApp code is 735911")

        # status shows the code, both versions
        assert await client.get_activation_status_v1(number.activation_id) == (ActivationStatus.OK, "735911")
        received = await client.get_activation_status(number.activation_id)
        assert received.sms is not None
        assert (received.sms.code, received.sms.text) == ("735911", "Your WhatsApp code is 735911")

        # complete
        completed = await client.set_activation_status(number.activation_id, SetActivationStatus.COMPLETE)
        assert completed is SetActivationStatusResponse.ACTIVATED

        # the balance was reduced once, by the number's cost
        after_first = cents(await client.get_balance())
        assert after_first == start - cost
        assert await client.get_activation_status_v1(number.activation_id) == (ActivationStatus.OK, "735911")
        assert cents(await client.get_balance()) == after_first

        # order another, and cancel it: the balance is unchanged by it
        second = await client.purchase("tg", country=16)
        assert isinstance(second, Number) and second.activation_id != number.activation_id
        assert cents(await client.get_balance()) == after_first - cents(second.activation_cost)  # held meanwhile
        canceled = await client.set_activation_status(second.activation_id, SetActivationStatus.CANCEL)
        assert canceled is SetActivationStatusResponse.CANCEL
        assert await client.get_activation_status_v1(second.activation_id) == (ActivationStatus.CANCEL, None)
        assert cents(await client.get_balance()) == after_first

        # a bad key: BAD_KEY, as the client understands it
        with pytest.raises(SmsActivateException) as bad_key:
            await SmsActivate("not-a-key", base_url=live.handler_url).get_balance()
        assert bad_key.value.code == "BAD_KEY"

    asyncio.run(flow())
    assert len(live.charges(key)) == 1


def test_the_clients_lists_and_errors_parse(live):
    key = live.take()

    async def flow():
        client = SmsActivate(key, base_url=live.handler_url)
        prices = await client.get_prices(service="wa", country=187)
        assert prices["187"]["wa"]["count"] > 0
        countries = await client.get_countries()
        assert countries["16"]["eng"] == "United Kingdom"
        services = await client.get_service_list()
        assert {"code": "tg", "name": "Telegram"} in services["services"]
        assert await client.get_service_name("wa") == "WhatsApp"
        with pytest.raises(SmsActivateException) as no_activations:
            await client.get_active_activations()
        assert no_activations.value.code == "NO_ACTIVATIONS"
        with pytest.raises(SmsActivateException) as bad_service:
            await client.purchase("zz", country=187)
        assert bad_service.value.code == "BAD_SERVICE"
        with pytest.raises(SmsActivateException) as wrong_price:
            await client.purchase("wa", country=187, maxPrice=0.01)
        assert wrong_price.value.code == "WRONG_MAX_PRICE"
        with pytest.raises(SmsActivateException) as no_numbers:
            await client.purchase("wa", country=12)
        assert no_numbers.value.code == "NO_NUMBERS"
        number = await client.purchase("wa", country=187, orderId="client-order-1")
        with pytest.raises(SmsActivateException) as again:
            await client.purchase("wa", country=187, orderId="client-order-1")
        assert again.value.code == "ORDER_ALREADY_EXISTS"
        active = await client.get_active_activations()
        assert [item["activationId"] for item in active["activeActivations"]] == [str(number.activation_id)]
        with pytest.raises(SmsActivateException) as no_activation:
            await client.set_activation_status(999_999_999, SetActivationStatus.CANCEL)
        assert no_activation.value.code == "NO_ACTIVATION"
        with pytest.raises(SmsActivateException) as broke:
            await SmsActivate(live.keys["broke"], base_url=live.handler_url).purchase("wa", country=187)
        assert broke.value.code == "NO_BALANCE"

    asyncio.run(flow())
