"""Django-side steps of the benchmark, run by ``bench/run.py`` in a subprocess with the bench environment.

    python bench/djhelper.py seed PLAN.json OUT.json     tenants, users, keys, money (operator commands), limits
    python bench/djhelper.py webhooks-healthy SLUG       {"healthy": bool} as the app itself decides it
    python bench/djhelper.py money DELIVERED.json        charges vs SMS delivered upstream, as JSON
    python bench/djhelper.py profile SPEC.json           per-request cost in-process: ms, CPU ms, SQL, cache calls
    python bench/djhelper.py sms-times IDS.json          {activation id: sms_received_at (Unix s, float)}
    python bench/djhelper.py cprofile KEY PATH N         cProfile of N GETs of PATH (a poll), top functions

Seeding goes through the operator commands (``create_tenant``, ``create_user``, ``create_api_key``,
``wallet_credit``, ``sync_catalog``) called in-process, so hundreds of users take seconds, not minutes.
Only the per-tenant limits that would distort a load test are changed directly on the row (see PLAN's
``limits``); every lifted limit is listed in the results.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django.core.cache import caches  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Tenant  # noqa: E402
from activations.models import Activation  # noqa: E402
from activations.services.webhooks import webhooks_healthy  # noqa: E402
from wallet.models import JournalEntry  # noqa: E402


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def seed(plan_path: str, out_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    result: dict[str, dict] = {}
    for spec in plan["tenants"]:
        slug = spec["slug"]
        args = [
            "create_tenant",
            slug,
            "--name",
            spec["name"],
            "--platfone-url",
            spec["platfone_url"],
            "--platfone-key",
            spec["platfone_key"],
        ]
        if spec.get("webhook_secret"):
            args += ["--webhook-secret", spec["webhook_secret"]]
        _command(*args)
        Tenant.objects.filter(slug=slug).update(**plan["limits"])
        users = []
        for i in range(spec["users"]):
            email = f"u{i:03d}@{slug}.bench.test"
            _command("create_user", "--tenant", slug, "--email", email)
            key = (
                _command("create_api_key", "--tenant", slug, "--email", email, "--name", "bench")
                .strip()
                .splitlines()[-1]
            )
            _command(
                "wallet_credit",
                "--tenant",
                slug,
                "--email",
                email,
                "--cents",
                str(spec["credit_cents"]),
                "--description",
                "Benchmark credit",
                "--idempotency-key",
                f"bench:credit:{slug}:{i}",
            )
            users.append({"email": email, "key": key})
        result[slug] = {"pk": Tenant.objects.get(slug=slug).pk, "users": users}
    # The catalogs, as the hourly beat task would have them in production (prices stay live).
    _command("sync_catalog")
    Path(out_path).write_text(json.dumps({"tenants": result}, indent=1))
    print(f"seeded {len(result)} tenants, {sum(len(t['users']) for t in result.values())} users")


def healthy(slug: str) -> None:
    print(json.dumps({"healthy": webhooks_healthy(Tenant.objects.get(slug=slug))}))


def money(delivered_path: str) -> None:
    """``delivered_path``: ``[[tenant_slug, upstream_activation_id], ...]`` of every activation the emulators
    delivered an SMS to. Prints how the ledger's charges line up with them."""
    delivered = {tuple(pair) for pair in json.loads(Path(delivered_path).read_text())}
    slugs = dict(Tenant.objects.values_list("pk", "slug"))
    activations = {
        pk: (slugs[tenant_id], upstream_id)
        for pk, tenant_id, upstream_id in Activation.objects.values_list("pk", "tenant_id", "upstream_id")
    }
    kinds = Counter(JournalEntry.objects.values_list("kind", flat=True))
    charge_ids = _activation_ids(JournalEntry.objects.filter(kind="charge"))
    refund_ids = _activation_ids(JournalEntry.objects.filter(kind="refund"))
    per_activation = Counter(charge_ids)
    charged = {activations[pk] for pk in per_activation if pk in activations}
    billing = Counter(Activation.objects.values_list("billing_status", flat=True))
    orders = Counter(Activation.objects.values_list("order_status", flat=True))
    report = {
        "sms_delivered_upstream": len(delivered),
        "charge_entries": len(charge_ids),
        "refund_entries": len(refund_ids),
        "activations_charged": len(charged),
        "activations_charged_twice": sum(1 for n in per_activation.values() if n > 1),
        "delivered_not_charged": sorted(map(list, delivered - charged))[:20],
        "delivered_not_charged_count": len(delivered - charged),
        "charged_not_delivered": sorted(map(list, charged - delivered))[:20],
        "charged_not_delivered_count": len(charged - delivered),
        "activations_total": len(activations),
        "activations_by_billing_status": dict(billing),
        "activations_by_order_status": dict(orders),
        "journal_entries_by_kind": dict(kinds),
    }
    report["ok"] = (
        report["delivered_not_charged_count"] == 0
        and report["charged_not_delivered_count"] == 0
        and report["activations_charged_twice"] == 0
        and report["refund_entries"] == 0
    )
    print(json.dumps(report))


def _activation_ids(entries) -> list[int | None]:
    """The activation each entry is for, from the ledger's opaque reference ("activation:42")."""
    ids: list[int | None] = []
    for reference in entries.values_list("reference", flat=True):
        kind, _, number = reference.partition(":")
        ids.append(int(number) if kind == "activation" and number.isdigit() else None)
    return ids


CACHE_METHODS = ("get", "set", "add", "incr", "decr", "delete", "get_many", "set_many", "touch", "has_key")


# Not queries: how the driver opens and ends a transaction (tests/activations/test_query_counts.py leaves them out
# too). Savepoints are counted.
TRANSACTION_MARKERS = frozenset({"BEGIN", "BEGIN IMMEDIATE", "COMMIT"})


def sent_since(began: int) -> list[str]:
    """The statements sent since ``len(connection.queries_log)`` was ``began``, transaction markers left out
    (read from the deque's end: copying it whole on every request would weigh on the CPU figures)."""
    log = connection.queries_log
    fresh = (log[index]["sql"] for index in range(began - len(log), 0))
    return [sql[:200] for sql in fresh if sql not in TRANSACTION_MARKERS]


def profile(spec_path: str) -> None:
    """Each request of SPEC run ``n`` times through the whole Django stack in this one thread (django.test.Client,
    no gunicorn, no network): wall and CPU milliseconds per request, SQL queries and cache calls per request.
    ``{"n": 200, "requests": [{"name", "method", "path", "key", "body"?, "then"?: {"method", "path"}}]}``;
    ``then`` is a follow-up request on the ``id`` the first one answered (order, then cancel)."""
    spec = json.loads(Path(spec_path).read_text())
    cache = caches["default"]
    calls = Counter()
    for method in CACHE_METHODS:
        original = getattr(cache, method)

        def counted(*args, _original=original, _name=method, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        setattr(cache, method, counted)
    from core.api import ratelimit

    increment = ratelimit._increment

    def counted_increment(*args, **kwargs):
        calls["ratelimit_pipeline"] += 1  # one round trip (INCR + EXPIRE pipelined), not through the cache API
        return increment(*args, **kwargs)

    ratelimit._increment = counted_increment
    client = Client(HTTP_HOST="127.0.0.1")
    results = {}
    for item in spec["requests"]:
        n = int(item.get("n") or spec["n"])
        headers = {"HTTP_X_API_KEY": item["key"]} if item.get("key") else {}

        split = Counter()  # SQL statements of the first request and of its follow-up, each on its own
        then_statuses = Counter()  # the follow-up's answers (a cancel may be refused as too early)
        last_sql: dict[str, list[str]] = {}  # the statements of the last request (and follow-up), to read

        def once(item=item, headers=headers, split=split, then_statuses=then_statuses, last_sql=last_sql) -> int:
            began = len(connection.queries_log)
            if item["method"] == "GET":
                response = client.get(item["path"], **headers)
            else:
                response = client.post(item["path"], data=item.get("body") or {}, content_type="application/json",
                                       **headers)  # fmt: skip
            last_sql["first"] = sent_since(began)
            split["first"] += len(last_sql["first"])
            then = item.get("then")
            if then and response.status_code == 200:
                follow = then["path"].replace("{id}", str(response.json()["data"]["id"]))
                began = len(connection.queries_log)
                followed = client.post(follow, data={}, content_type="application/json", **headers)
                then_statuses[followed.status_code] += 1
                if followed.status_code == 200:  # a refused cancel (too early) says nothing of a cancel's cost
                    last_sql["then"] = sent_since(began)
                    split["then"] += len(last_sql["then"])
                    split["then_runs"] += 1
            return response.status_code

        for _ in range(min(5, n)):
            once()
        calls.clear()
        split.clear()
        then_statuses.clear()
        statuses = Counter()
        wall, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            for _ in range(n):
                statuses[once()] += 1
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        results[item["name"]] = {
            "n": n,
            "ms": round(wall * 1000 / n, 2),
            "cpu_ms": round(cpu * 1000 / n, 2),
            "sql": round(sum(q["sql"] not in TRANSACTION_MARKERS for q in queries.captured_queries) / n, 2),
            "sql_first": round(split["first"] / n, 2),
            # per follow-up that succeeded
            "sql_then": round(split["then"] / split["then_runs"], 2) if split["then_runs"] else None,
            "then_statuses": {str(k): v for k, v in then_statuses.items()},
            "last_statements": last_sql if item["method"] != "GET" else None,
            "cache_calls": round(sum(calls.values()) / n, 2),
            "cache_by_method": {k: round(v / n, 2) for k, v in sorted(calls.items())},
            "statuses": {str(k): v for k, v in statuses.items()},
        }
    print(json.dumps(results))


def cprofile(key: str, path: str, n: str) -> None:
    """cProfile of ``n`` GETs of ``path`` with ``key`` through the whole Django stack in this thread (after 20
    warm-up requests): the functions with the most cumulative time, as text."""
    import cProfile
    import pstats

    client = Client(HTTP_HOST="127.0.0.1")
    for _ in range(20):
        client.get(path, HTTP_X_API_KEY=key)
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for _ in range(int(n)):
        client.get(path, HTTP_X_API_KEY=key)
    profiler.disable()
    elapsed = time.perf_counter() - began
    out = io.StringIO()
    print(f"{n} x GET {path}: {elapsed * 1000 / int(n):.2f} ms per request under cProfile", file=out)
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(28)
    print(out.getvalue())


def sms_times(ids_path: str) -> None:
    ids = json.loads(Path(ids_path).read_text())
    rows = Activation.objects.filter(pk__in=ids).values_list("pk", "sms_received_at")
    print(json.dumps({str(pk): at.timestamp() if at else None for pk, at in rows}))


def main(argv: list[str]) -> None:
    if argv[:1] == ["seed"] and len(argv) == 3:
        seed(argv[1], argv[2])
    elif argv[:1] == ["webhooks-healthy"] and len(argv) == 2:
        healthy(argv[1])
    elif argv[:1] == ["money"] and len(argv) == 2:
        money(argv[1])
    elif argv[:1] == ["profile"] and len(argv) == 2:
        profile(argv[1])
    elif argv[:1] == ["cprofile"] and len(argv) == 4:
        cprofile(argv[1], argv[2], argv[3])
    elif argv[:1] == ["sms-times"] and len(argv) == 2:
        sms_times(argv[1])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
