"""Webhook signing and verification, and parsing of webhook bodies."""

from __future__ import annotations

import json

import pytest

from platfone.types import ParseError
from platfone.webhooks import parse_event, sign, signed_headers, verify

from .test_client import ACTIVATION

SECRET = "whsec-test"
NOW = 1_632_400_000
BODY = json.dumps({"id": "abcd1234", "api_version": "1.0", "type": "activation.updated", "data": ACTIVATION}).encode()


def test_it_signs_the_id_timestamp_and_body_with_hmac_sha256():
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"abcd1234.1632400000." + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, "abcd1234", NOW, BODY) == expected
    assert sign(SECRET, "abcd1234", str(NOW), BODY) == expected


def test_it_verifies_a_correct_signature():
    signature = sign(SECRET, "abcd1234", NOW, BODY)

    assert verify(SECRET, "abcd1234", NOW, signature, BODY, now=NOW)
    assert verify(SECRET, "abcd1234", str(NOW), signature.upper(), BODY, now=NOW + 299)


@pytest.mark.parametrize(
    ("secret", "webhook_id", "body"),
    [("other-secret", "abcd1234", BODY), (SECRET, "abcd1235", BODY), (SECRET, "abcd1234", BODY + b" ")],
)
def test_it_rejects_a_wrong_secret_id_or_tampered_body(secret, webhook_id, body):
    signature = sign(SECRET, "abcd1234", NOW, BODY)

    assert not verify(secret, webhook_id, NOW, signature, body, now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, -86400, 86400])
def test_it_rejects_timestamps_more_than_five_minutes_off_either_way(skew):
    signature = sign(SECRET, "abcd1234", NOW, BODY)

    assert not verify(SECRET, "abcd1234", NOW, signature, BODY, now=NOW + skew)


@pytest.mark.parametrize("timestamp", ["1632400000.0", "abc", "", " ", True, None, 1632400000.0, "1e9", "١٢٣"])
def test_it_rejects_non_integer_timestamps(timestamp):
    signature = sign(SECRET, "abcd1234", NOW, BODY)

    assert not verify(SECRET, "abcd1234", timestamp, signature, BODY, now=NOW)


@pytest.mark.parametrize("signature", [None, 123, "", "zz", "é" * 64, b"abc"])
def test_it_never_raises_on_garbage_signatures(signature):
    assert not verify(SECRET, "abcd1234", NOW, signature, BODY, now=NOW)


@pytest.mark.parametrize(
    ("secret", "webhook_id", "body"),
    [("", "x", BODY), (SECRET, "", BODY), (SECRET, None, BODY), (SECRET, "x", None), (None, "x", BODY)],
)
def test_it_never_raises_on_garbage_inputs(secret, webhook_id, body):
    assert not verify(secret, webhook_id, NOW, "00", body, now=NOW)


def test_signed_headers_verify():
    headers = signed_headers(SECRET, "evt1", NOW, BODY)

    assert verify(SECRET, headers["x-webhook-id"], headers["x-timestamp"], headers["x-signature"], BODY, now=NOW)


def test_it_parses_an_activation_event():
    event = parse_event(BODY)

    assert (event.id, event.api_version, event.type) == ("abcd1234", "1.0", "activation.updated")
    assert event.activation.activation_id == ACTIVATION["activation_id"]


def test_it_parses_a_low_balance_event_with_or_without_activation_fields():
    with_fields = {
        "id": "e1",
        "api_version": "1.0",
        "type": "account.low_balance",
        "data": {**ACTIVATION, "balance": 2301},
    }
    bare = {"id": "e2", "api_version": "1.0", "type": "account.low_balance", "data": {"balance": 42}}

    assert parse_event(json.dumps(with_fields).encode()).balance == 2301
    assert parse_event(json.dumps(bare).encode()).activation is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"api_version": "1.0", "type": "activation.updated", "data": ACTIVATION}).encode(),
        json.dumps({"id": "x", "type": "something.else", "data": {}}).encode(),
        json.dumps({"id": "x", "type": "activation.updated", "data": {"activation_id": "only"}}).encode(),
        b"\xff\xfe",
    ],
)
def test_it_rejects_bodies_that_are_not_webhook_events(body):
    with pytest.raises(ParseError):
        parse_event(body)
