"""Abuse: a thousand seeded random malformed requests against every endpoint and routing style.

Bad JSON, huge bodies, wrong types, unicode and NUL bytes, SQL-ish strings, negative and enormous numbers,
other users' and other tenants' ids, revoked, foreign and mangled keys, wrong methods and content types,
forged webhooks. Every answer is a 4xx in the API's envelope (``{"ok": false, "error", "code"}``), and
nothing is written: no activation, journal entry, posting or hold appears, no balance or state moves.
A request that happens to be valid (2xx) may write; then the books must still be consistent.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

import pytest
from django.test import Client

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from activations.models import Activation, ReconciliationIssue, WebhookEvent
from catalog.services import catalog_sync
from tests.reliability.support import envelope_problem, money_problems
from wallet.models import Account, Hold, JournalEntry, Posting

pytestmark = pytest.mark.django_db

REQUESTS = 1000
ROUTES = {
    "clean": lambda path: f"/api/v1/{path}",
    "query": lambda path: f"/api/v1/index.php?path={path}",
    "path_info": lambda path: f"/api/v1/index.php/{path}",
}
SQLISH = [
    "' OR '1'='1",
    "1; DROP TABLE activations_activation; --",
    '" OR 1=1 --',
    "1 UNION SELECT password FROM accounts_user",
    "'; SELECT pg_sleep(5); --",
    "%' AND 1=0 UNION ALL SELECT NULL--",
]
UNICODE = [
    "whatsäpp",
    "ワッツアップ",
    "\u202ewhatsapp",
    "what\u200bsapp",
    "👍" * 8,
    "\u0000",
    "a\x00b",
    "ǅ",
    "İ",
    "\ufeffus",
]
NUMBERS = [-1, 0, -(2**63), 2**63, 2**64, 10**30, 1.5, -0.0, 1e308, float("inf"), 10001, 99999999999999999999]
STRANGE_IDS = [
    "0", "-1", "1.0", "1e3", "0x10", " 1", "1 ", "+1", "١٢", "00001", str(2**63), str(2**64), "9" * 400,
    "1 OR 1=1", "1;DROP TABLE x", "..%2F..%2Fwallet", "%00", "null", "undefined", "[]", "{}", "👍", "%F0%9F%91%8D",
]  # fmt: skip


@dataclass
class Req:
    kind: str
    method: str
    path: str
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


class AbuseWorld:
    """Keys and ids to abuse: alice's own activations, bob's (same tenant), charlie's (other tenant)."""

    def __init__(self, *, emulator, cast, alice, bob, charlie, tenant):
        from rest_framework.test import APIClient

        catalog_sync(tenant=tenant)
        client = APIClient()
        self.ids = {}
        for user, pair in [(alice, ("whatsapp", "us")), (bob, ("telegram", "uk")), (charlie, ("whatsapp", "us"))]:
            response = client.post(
                "/api/v1/activations",
                {"service_id": pair[0], "country_id": pair[1]},
                format="json",
                HTTP_X_API_KEY=cast.keys[user],
            )
            assert response.status_code == 200, response.content
            self.ids[user.email.split("@")[0]] = response.json()["data"]["id"]
        self.keys = {u.email.split("@")[0]: cast.keys[u] for u in cast.users}
        revoked = api_key_create(user=alice, name="revoked")
        api_key_revoke(api_key=ApiKey.objects.get(pk=revoked.api_key.pk))
        self.keys["revoked"] = revoked.raw_key


class Corpus:
    """Seeded generator of malformed requests. The caller's key is alice's unless a category says otherwise."""

    def __init__(self, world: AbuseWorld, seed: int):
        self.world = world
        self.rng = random.Random(seed)

    def auth(self) -> dict:
        rng, keys = self.rng, self.world.keys
        choice = rng.choices(
            ["alice", "bearer", "revoked", "charlie", "bob", "none", "mangled", "both"], [30, 10, 10, 10, 5, 10, 20, 5]
        )[0]
        if choice in ("alice", "revoked", "charlie", "bob"):
            return {"HTTP_X_API_KEY": keys[choice]}
        if choice == "bearer":
            return {"HTTP_AUTHORIZATION": f"Bearer {keys['alice']}"}
        if choice == "both":
            return {"HTTP_X_API_KEY": keys["revoked"], "HTTP_AUTHORIZATION": f"Bearer {keys['alice']}"}
        if choice == "mangled":
            key = keys["alice"]
            return rng.choice(
                [
                    {"HTTP_X_API_KEY": key[:-1]},
                    {"HTTP_X_API_KEY": key + "x"},
                    {"HTTP_X_API_KEY": key.upper()},
                    {"HTTP_X_API_KEY": "." + key.split(".")[-1]},
                    {"HTTP_X_API_KEY": key.split(".")[0] + "."},
                    {"HTTP_X_API_KEY": "ключ.секрет"},
                    {"HTTP_X_API_KEY": "k" * 10_000},
                    {"HTTP_X_API_KEY": rng.choice(SQLISH)},
                    {"HTTP_AUTHORIZATION": "Bearer"},
                    {"HTTP_AUTHORIZATION": f"Basic {key}"},
                    {"HTTP_AUTHORIZATION": f"Bearer  {key} extra"},
                ]
            )
        return {}

    def activation_id(self):
        rng = self.rng
        pick = rng.random()
        if pick < 0.35:
            return self.world.ids[rng.choice(["bob", "charlie"])]  # somebody else's
        if pick < 0.45:
            return self.world.ids["alice"]  # alice's own: valid with her key, by chance
        return rng.choice(STRANGE_IDS + [str(rng.choice(NUMBERS))])

    def path(self, path: str) -> str:
        return ROUTES[self.rng.choice(list(ROUTES))](path)

    def junk_value(self):
        rng = self.rng
        return rng.choice(
            [
                rng.choice(NUMBERS),
                rng.choice(SQLISH),
                rng.choice(UNICODE),
                None,
                True,
                [],
                {},
                ["whatsapp"],
                {"$gt": ""},
                "x" * rng.choice([31, 100, 5000]),
                "",
                " ",
            ]
        )

    def json_body(self) -> tuple[bytes, str]:
        rng = self.rng
        good = {"service_id": "whatsapp", "country_id": "us"}
        variant = rng.randrange(12)
        if variant == 0:
            return rng.choice(
                [b"{", b"[1,2", b'{"service_id": }', b"\xff\xfe\x00", b"{'a': 1}", b"nul"]
            ), "application/json"
        if variant == 1:
            return rng.choice([b"null", b"[]", b'"whatsapp"', b"42", b"true"]), "application/json"
        if variant == 2:
            return b'{"service_id": "whatsapp", "country_id": "us", "max_price": NaN}', "application/json"
        if variant == 3:
            return b"[" * 5000 + b"]" * 5000, "application/json"
        if variant == 4:
            return json.dumps({**good, "pad": "x" * rng.choice([70_000, 300_000])}).encode(), "application/json"
        if variant == 5:
            field_name = rng.choice(["service_id", "country_id", "max_price"])
            return json.dumps({**good, field_name: self.junk_value()}, default=str).encode(), "application/json"
        if variant == 6:
            return json.dumps({**good, "max_price": rng.choice(NUMBERS)}, default=str).encode(), "application/json"
        if variant == 7:
            return json.dumps({**good, "service_id": rng.choice(UNICODE + SQLISH)}).encode(), "application/json"
        if variant == 8:
            return b"service_id=whatsapp&country_id=%ZZ&max_price=-5", "application/x-www-form-urlencoded"
        if variant == 9:
            return (
                b'--x\r\nContent-Disposition: form-data; name="service_id"\r\n\r\nwh',
                "multipart/form-data; boundary=x",
            )
        if variant == 10:
            return json.dumps(good).encode(), rng.choice(
                ["text/xml", "application/json; charset=utf-16", "image/png", ""]
            )
        return json.dumps(
            {"service_id": "whatsapp", "country_id": rng.choice(["u", "us_v", "zz", "usa" * 4])}
        ).encode(), ("application/json")

    # --- categories -------------------------------------------------------------------------------------

    def order(self) -> Req:
        body, content_type = self.json_body()
        headers = self.auth()
        if self.rng.random() < 0.2:
            headers["HTTP_IDEMPOTENCY_KEY"] = self.rng.choice(["", "ключ", "k" * 200, "a b", "\x7f", "x" * 101])
        return Req("order", "POST", self.path("activations"), body, content_type, headers)

    def activation_action(self) -> Req:
        action = self.rng.choice(["", "/poll", "/cancel", "/retry", "/finalize", "/report", "/report/reasons"])
        method = "GET" if action in ("", "/poll", "/report/reasons") else "POST"
        if self.rng.random() < 0.2:
            method = self.rng.choice(["PUT", "PATCH", "DELETE", "POST" if method == "GET" else "GET"])
        body, content_type = self.json_body() if method != "GET" else (b"", "application/json")
        if action == "/report" and self.rng.random() < 0.5:
            body = json.dumps({"reason_id": self.junk_value(), "message": self.junk_value()}, default=str).encode()
        return Req("activation", method, self.path(f"activations/{self.activation_id()}{action}"), body, content_type,
                   self.auth())  # fmt: skip

    def query(self) -> Req:
        rng = self.rng

        def value():
            return str(self.junk_value()).replace("&", "%26").replace("#", "%23")

        path, params = rng.choice(
            [
                ("price", {"service_id": value(), "country_id": value()}),
                ("price", {"service_id": "whatsapp"}),
                ("price", {"country_id": "us", "service_id": ""}),
                ("activations", {"page": value(), "limit": value()}),
                ("activations", {"page": rng.choice(["-1", "0", "1e9", "99999999999999999999"]), "limit": "1000"}),
                ("wallet", {"transactions": value()}),
                ("services", {"type": value(), "grouped": value()}),
                ("countries", {"x": value()}),
            ]
        )
        query = "&".join(f"{k}={v}" for k, v in params.items())
        route = self.path(path)
        method = "GET" if rng.random() < 0.85 else rng.choice(["POST", "PUT", "DELETE", "HEAD"])
        return Req("query", method, f"{route}{'&' if '?' in route else '?'}{query}", headers=self.auth())

    def routing(self) -> Req:
        rng = self.rng
        path = rng.choice(
            [
                "/api/v1/index.php?path=",
                "/api/v1/index.php?path=" + "a/" * 150,
                "/api/v1/index.php?path=../../etc/passwd",
                "/api/v1/index.php?path=%00",
                "/api/v1/index.php?path=wallet%00",
                "/api/v1/index.php?path=wallet&path=price",
                "/api/v1/index.php/",
                "/api/v1/index.php/activations/1/poll/extra",
                "/api/v1/index.php?path=activations//1",
                "/api/v1/nope",
                "/api/v1/activations/1/2/3/4",
                "/api/v2/wallet",
                "/api/services.php/x",
                "/api/" + "x" * 3000,
                "/api/v1/wallet/" + "%2e%2e/" * 5,
                "/api/v1/activations/%F0%9F%91%8D/poll",
            ]
        )
        return Req("routing", rng.choice(["GET", "POST", "DELETE"]), path, headers=self.auth())

    def catalog(self) -> Req:
        rng = self.rng
        path = rng.choice(["/api/services.php", "/api/countries.php", "/api/v1/services", "/api/v1/countries"])
        query = rng.choice(["", "?type=" + str(self.junk_value()), "?grouped=" + "1" * 50, "?type=messaging&type=x"])
        headers = rng.choice(
            [
                {"HTTP_HOST": "acme.test"},
                {"HTTP_HOST": "unknown.test"},
                {"HTTP_HOST": "acme.test", "HTTP_IF_NONE_MATCH": rng.choice(['"x"', "*", "W/" + "a" * 3000])},
                {"HTTP_HOST": "acme.test", "HTTP_IF_MODIFIED_SINCE": rng.choice(["yesterday", "Mon, 99 Foo 9999"])},
                {"HTTP_HOST": "acme.test:notaport"},
                {"HTTP_HOST": "[::1"},
            ]
        )
        method = "GET" if rng.random() < 0.8 else rng.choice(["POST", "PUT", "DELETE"])
        return Req("catalog", method, path + query, headers=headers)

    def size(self) -> Req:
        rng = self.rng
        headers = self.auth()
        headers["CONTENT_LENGTH"] = rng.choice(["abc", "-1", "1e3", "", "0"])
        body, content_type = self.json_body()
        return Req("content_length", "POST", self.path("activations"), body if headers["CONTENT_LENGTH"] else b"",
                   content_type, headers)  # fmt: skip

    def webhook(self) -> Req:
        rng = self.rng
        tenant = rng.choice(["acme", "globex", "nobody", "ACME", "a" * 60])
        body = rng.choice(
            [
                b"{}",
                b"garbage",
                json.dumps({"id": "evt", "type": "activation.updated", "data": {"activation_id": "x"}}).encode(),
                b"x" * 300_000,
            ]
        )
        headers = rng.choice(
            [
                {},
                {"CONTENT_LENGTH": rng.choice(["abc", "-1", "1e3"])},
                {"HTTP_X_WEBHOOK_ID": "evt", "HTTP_X_TIMESTAMP": "1", "HTTP_X_SIGNATURE": "00" * 32},
                {"HTTP_X_WEBHOOK_ID": "evt", "HTTP_X_TIMESTAMP": "not-a-time", "HTTP_X_SIGNATURE": "ж"},
                {"HTTP_X_WEBHOOK_ID": "", "HTTP_X_TIMESTAMP": "9" * 40, "HTTP_X_SIGNATURE": ""},
            ]
        )
        return Req("webhook", "POST", f"/webhooks/platfone/{tenant}/", body, "application/json", dict(headers))

    def next(self) -> Req:
        makers = [self.order, self.activation_action, self.query, self.routing, self.catalog, self.size, self.webhook]
        return self.rng.choices(makers, weights=[25, 30, 15, 8, 8, 6, 8])[0]()


def state() -> tuple:
    """Everything a request must not change unless it succeeded."""
    return (
        Activation.objects.count(),
        JournalEntry.objects.count(),
        Posting.objects.count(),
        Hold.objects.count(),
        WebhookEvent.objects.count(),
        ReconciliationIssue.objects.count(),
        tuple(Account.objects.order_by("pk").values_list("balance_cents", "held_cents")),
        tuple(Hold.objects.order_by("pk").values_list("status", flat=True)),
        tuple(
            Activation.objects.order_by("pk").values_list(
                "billing_status", "activation_status", "order_status", "sms_status", "cancel_requested_at"
            )
        ),
        tuple(ApiKey.objects.order_by("pk").values_list("revoked_at", flat=True)),
    )


def send(client: Client, req: Req):
    return client.generic(req.method, req.path, data=req.body, content_type=req.content_type, **req.headers)


@pytest.fixture
def abuse_world(emulator, cast, alice, bob, charlie, tenant, settings):
    settings.CATALOG_RATE_LIMIT_PER_MINUTE = 1_000_000
    return AbuseWorld(emulator=emulator, cast=cast, alice=alice, bob=bob, charlie=charlie, tenant=tenant)


@pytest.mark.parametrize("seed", [1])
def test_a_thousand_malformed_requests_get_4xx_envelopes_and_write_nothing(abuse_world, cast, seed):
    # given
    client = Client(raise_request_exception=False)
    corpus = Corpus(abuse_world, seed)
    problems: list[str] = []
    kinds: dict[str, int] = {}
    before = state()
    # when
    for n in range(REQUESTS):
        req = corpus.next()
        response = send(client, req)
        after = state()
        status = response.status_code
        kinds[f"{req.kind} {status}"] = kinds.get(f"{req.kind} {status}", 0) + 1
        label = (
            f"#{n} {req.kind} {req.method} {req.path[:120]!r} body={req.body[:80]!r} headers={str(req.headers)[:120]}"
        )
        # then
        if status >= 500:
            problems.append(f"{label} -> {status} {response.content[:200]!r}")
        elif 200 <= status < 300:
            # Valid by chance (alice's own activation, a well-formed order): it may write, consistently.
            problems += [f"{label}: {p}" for p in money_problems(users=cast.users, funded=cast.funded, converged=False)]
        elif after != before:
            problems.append(f"{label} -> {status} but wrote: {before} -> {after}")
        envelope_required = req.method != "HEAD" and (req.path.startswith("/api/") or req.method == "POST")
        problem = (
            envelope_problem(status, response.content, response.get("Content-Type", "")) if envelope_required else None
        )
        if problem:
            problems.append(f"{label}: {problem}")
        before = after
    # then
    assert problems == [], f"{len(problems)} problems:\n" + "\n".join(problems[:40]) + f"\n\nby kind: {kinds}"
    assert sum(v for k, v in kinds.items() if k.endswith((" 400", " 401", " 404", " 405"))) > REQUESTS / 2


# --- the findings, one precise test each -------------------------------------------------------------------


@pytest.mark.parametrize("depth", [2_000, 20_000])
@pytest.mark.parametrize("path", ["/api/v1/activations", "/api/v1/index.php?path=activations/{id}/report"])
def test_deeply_nested_json_is_refused_with_a_400(abuse_world, path, depth):
    path = path.format(id=abuse_world.ids["alice"])
    # A 4-40 KB body, well under the 64 KB limit, that Python's json module cannot decode without recursing
    # past the interpreter's limit: DRF's JSONParser lets the RecursionError through as a 500.
    body = b"[" * depth + b"]" * depth
    response = Client(raise_request_exception=False).post(
        path, data=body, content_type="application/json", HTTP_X_API_KEY=abuse_world.keys["alice"]
    )
    assert response.status_code == 400, response.content
    assert envelope_problem(response.status_code, response.content, response["Content-Type"]) is None


@pytest.mark.parametrize("forwarded_for", [None, "", "garbage", "203.0.113.9, 10.0.0.1"])
def test_behind_a_proxy_a_missing_or_forged_forwarded_for_is_not_a_500(abuse_world, settings, forwarded_for):
    # TRUSTED_PROXIES is how the settings let the catalog's per-IP limit work behind a proxy. The header is
    # client-controlled (a proxy appends to what the client sent), so it may be absent, empty, not an address,
    # or a list: none of it may become a 500.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    extra = {} if forwarded_for is None else {"HTTP_X_FORWARDED_FOR": forwarded_for}
    response = Client(raise_request_exception=False).get("/api/services.php", HTTP_HOST="acme.test", **extra)
    assert response.status_code < 500, response.content
    assert envelope_problem(response.status_code, response.content, response["Content-Type"]) is None
