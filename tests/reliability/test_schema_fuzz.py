"""Property-based fuzzing of the public API from its own OpenAPI schema (schemathesis).

Every operation of ``/api/v1/openapi.json`` is called with generated valid and invalid input (schemathesis'
examples, coverage and fuzzing phases, including undocumented methods), once with a valid key (both
documented styles, alternating case by case) and once without a valid one (no key, or a revoked key).
Whatever is sent, the answer:

- is never a server error (no upstream faults are injected here, so not even a 503 is expected),
- has a status code the schema documents for the operation, the documented content type, and a body that
  validates against the documented schema (schemathesis' own checks, unchanged),
- is the envelope: ``{"ok": true, "data": {...}}`` or ``{"ok": false, "error": "...", "code": "..."}``
  (our check: the schema cannot say that ``ok`` is false exactly on errors),
- and the books stay right (``verify_ledger`` and the settlement invariants) after each operation's run.

Generated activation ids are mostly garbage; half of the cases are pointed at real activations of the
caller (waiting, with an SMS, canceled, virtual) or at another tenant's, so the state-changing operations do
real work. Catalog operations are sent with the storefront's Host, so they answer with data. Requests carry
a REMOTE_ADDR, which every WSGI server sets and werkzeug's test client does not.

OPTIONS (sent by schemathesis as an undocumented method) is only checked for server errors in the fuzz
tests; its answer is ``test_options_answers_in_the_envelope``'s subject, so that one finding does not hide
others.
"""

from __future__ import annotations

import hashlib

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from activations.models import Activation
from catalog.services import catalog_sync
from tests.reliability.conftest import InTestTransactionWSGIHandler
from tests.reliability.support import envelope_problem, money_problems
from wallet import selectors as wallet_selectors

pytestmark = pytest.mark.django_db

# Each fuzz test alternates, case by case, between the styles of its kind.
VALID_KEY_STYLES = ["x-api-key", "bearer"]
INVALID_KEY_STYLES = ["none", "revoked"]
MAX_EXAMPLES = 30
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class FuzzWorld:
    """The data the generated requests land on: alice's activations in every state, charlie's for a
    cross-tenant id, a synced catalog, and keys."""

    def __init__(self, *, emulator, cast, alice, charlie, tenant, other_tenant):
        from rest_framework.test import APIClient

        catalog_sync(tenant=tenant)
        catalog_sync(tenant=other_tenant)
        client = APIClient()
        alice_key, charlie_key = cast.keys[alice], cast.keys[charlie]
        ids = []
        for service, country in [("whatsapp", "us"), ("telegram", "uk"), ("google", "uk_v"), ("google", "us")]:
            response = client.post(
                "/api/v1/activations",
                {"service_id": service, "country_id": country},
                format="json",
                HTTP_X_API_KEY=alice_key,
            )
            assert response.status_code == 200, response.content
            ids.append(response.json()["data"])
        emulator.deliver_sms(ids[1]["activation_id"], code="424242")
        emulator.deliver_sms(ids[3]["activation_id"], code="171717")
        client.post(f"/api/v1/activations/{ids[0]['id']}/cancel", HTTP_X_API_KEY=alice_key)
        foreign = client.post(
            "/api/v1/activations",
            {"service_id": "whatsapp", "country_id": "us"},
            format="json",
            HTTP_X_API_KEY=charlie_key,
        ).json()["data"]
        self.alice_ids = [str(item["id"]) for item in ids]
        self.foreign_id = str(foreign["id"])
        self.valid_key = alice_key
        revoked = api_key_create(user=alice, name="revoked")
        api_key_revoke(api_key=ApiKey.objects.get(pk=revoked.api_key.pk))
        self.revoked_key = revoked.raw_key

    def headers(self, style: str) -> dict[str, str]:
        headers = {"Host": "acme.test"}
        if style == "x-api-key":
            headers["X-Api-Key"] = self.valid_key
        elif style == "bearer":
            headers["Authorization"] = f"Bearer {self.valid_key}"
        elif style == "revoked":
            headers["X-Api-Key"] = self.revoked_key
        return headers

    def steer(self, case) -> None:
        """Point half of the generated activation ids at real ones (deterministically per case)."""
        path_parameters = case.path_parameters or {}
        if "activation_id" not in path_parameters:
            return
        digest = hashlib.sha256(repr(path_parameters["activation_id"]).encode()).digest()
        if digest[0] % 2 == 0:
            targets = [*self.alice_ids, self.foreign_id]
            path_parameters["activation_id"] = targets[digest[1] % len(targets)]


@pytest.fixture
def fuzz_world(wsgi_in_test_transaction, emulator, cast, alice, charlie, tenant, other_tenant, settings):
    settings.CATALOG_RATE_LIMIT_PER_MINUTE = 1_000_000
    world = FuzzWorld(
        emulator=emulator, cast=cast, alice=alice, charlie=charlie, tenant=tenant, other_tenant=other_tenant
    )
    yield world
    problems = money_problems(users=cast.users, funded=cast.funded, converged=False)
    assert problems == [], "\n".join(problems)
    assert Activation.objects.filter(order_status="ordering").count() == 0
    assert wallet_selectors.verify_ledger().ok


# Loaded from the app itself at collection (no database needed): one test per operation and auth style.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler())
schema.app = InTestTransactionWSGIHandler()


def case_digest(case) -> bytes:
    return hashlib.sha256(repr((case.method, case.path_parameters, case.query, case.body)).encode()).digest()


def fuzz_test(styles: list[str]):
    @schema.parametrize()
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def test(case, fuzz_world):
        # given
        fuzz_world.steer(case)
        headers = fuzz_world.headers(styles[case_digest(case)[0] % len(styles)])
        # when
        response = case.call(headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.7"})
        # then
        if case.method == "OPTIONS":
            # Not an operation of the schema; its answer is checked by test_options_answers_in_the_envelope.
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
            return
        case.validate_response(response, checks=CHECKS, headers=headers)
        content_type = next((v[0] for k, v in response.headers.items() if k.lower() == "content-type"), "")
        problem = envelope_problem(response.status_code, response.content, content_type)
        assert problem is None, f"{case.method} {case.formatted_path}: {problem}"

    return test


test_with_a_valid_key_every_answer_matches_the_schema_and_envelope = fuzz_test(VALID_KEY_STYLES)
test_without_a_valid_key_every_answer_matches_the_schema_and_envelope = fuzz_test(INVALID_KEY_STYLES)


# --- the findings of the fuzzing, one precise test each ---------------------------------------------------


def call_documented(fuzz_world, path: str, method: str, *, auth: str = "x-api-key", **case_fields):
    case = schema[path][method].Case(**case_fields)
    headers = fuzz_world.headers(auth)
    return case, case.call(headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.7"}), headers


def test_the_wallet_transactions_match_their_documented_schema(fuzz_world):
    case, response, headers = call_documented(fuzz_world, "/api/v1/wallet", "GET", query={"transactions": "1"})
    assert response.status_code == 200 and response.json()["data"]["transactions"]
    case.validate_response(response, checks=[response_schema_conformance], headers=headers)


def test_the_activation_list_matches_its_documented_schema(fuzz_world):
    case, response, headers = call_documented(fuzz_world, "/api/v1/activations", "GET")
    assert response.status_code == 200 and response.json()["data"]["activations"]
    case.validate_response(response, checks=[response_schema_conformance], headers=headers)


@pytest.mark.parametrize("auth", ["none", "revoked"])
def test_the_wallet_documents_its_401(fuzz_world, auth):
    case, response, headers = call_documented(fuzz_world, "/api/v1/wallet", "GET", auth=auth)
    assert response.status_code == 401 and response.json()["code"] == "invalid_key"
    case.validate_response(response, checks=[status_code_conformance], headers=headers)


@pytest.mark.parametrize("path", ["/api/v1/wallet", "/api/v1/activations/1/poll", "/api/services.php"])
def test_options_answers_in_the_envelope(fuzz_world, path):
    # OPTIONS is no documented operation: it must be refused like any other method (405 envelope), not
    # answered with DRF's metadata (a 200 without ok/data, naming our internal view classes).
    from django.test import Client

    response = Client(HTTP_HOST="acme.test").options(path, HTTP_X_API_KEY=fuzz_world.valid_key)
    problem = envelope_problem(response.status_code, response.content, response.get("Content-Type", ""))
    assert problem is None
