"""Shared machinery of the reliability suite: the API envelope, webhook routing, and the money invariants.

Every chaos, crash, race and abuse test ends with ``money_problems(...)``: a list of human-readable
violations of the settlement rules (empty when the books are right), so a failure names every broken
activation at once instead of the first assertion that tripped.
"""

from __future__ import annotations

import io
import json
import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.management import CommandError, call_command
from django.db.models import Sum

from accounts.models import User
from activations.models import Activation, ReconciliationIssue
from tests.supplier_webhooks import post_supplier_webhook
from wallet import selectors as wallet_selectors
from wallet.models import Account, Hold, JournalEntry, Posting

# Statuses a caller may see for an upstream outage, and the endpoints that document them. Anything else
# in the 5xx range (above all a bare 500) is a defect.
UPSTREAM_DOWN = (503, "upstream_unavailable")
SMS_STATUSES = frozenset({"smsReceived", "retryRequested", "retryReceived"})
TERMINAL = frozenset({"finalized", "expired", "canceled"})


# --- the envelope -----------------------------------------------------------------------------------------


def envelope_problem(status: int, content: bytes, content_type: str) -> str | None:
    """Why a response breaks the API's envelope, or None. 304 has no body by definition."""
    if status == 304:
        return None
    if "application/json" not in (content_type or ""):
        return f"{status}: content type {content_type!r} is not JSON: {content[:120]!r}"
    try:
        body = json.loads(content)
    except ValueError:
        return f"{status}: body is not JSON: {content[:120]!r}"
    if not isinstance(body, dict):
        return f"{status}: body is not an object: {content[:120]!r}"
    if 200 <= status < 300:
        if body.get("ok") is not True or not isinstance(body.get("data"), dict):
            return f"{status}: success without ok=true and a data object: {content[:200]!r}"
        return None
    if body.get("ok") is not False:
        return f"{status}: error without ok=false: {content[:200]!r}"
    for name in ("error", "code"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{status}: error without a non-empty {name!r}: {content[:200]!r}"
    return None


@dataclass
class Call:
    label: str
    method: str
    path: str
    status: int
    body: dict | None
    content: bytes = b""
    content_type: str = ""


@dataclass
class CallLog:
    """Every API call a scenario made, thread-safe; asserts at the end instead of failing mid-scenario."""

    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, label: str, method: str, path: str, response) -> Call:
        content = response.content if hasattr(response, "content") else b""
        content_type = response.get("Content-Type", "") if hasattr(response, "get") else ""
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = None
        call = Call(label, method, path, response.status_code, body, content, content_type)
        with self._lock:
            self.calls.append(call)
        return call

    def record_exception(self, label: str, method: str, path: str, text: str) -> Call:
        """A view raised instead of answering: behind a real server that is a 500; keep the traceback."""
        call = Call(label, method, path, 500, None, text.encode(), "")
        with self._lock:
            self.calls.append(call)
        return call

    def statuses(self) -> Counter:
        return Counter((c.label, c.status, (c.body or {}).get("code")) for c in self.calls)

    def server_errors(self, *, documented_503: Iterable[str] = ()) -> list[str]:
        """5xx responses that are defects: all of them, except 503 upstream_unavailable where documented."""
        allowed = set(documented_503)
        problems = []
        for c in self.calls:
            if c.status < 500:
                continue
            code = (c.body or {}).get("code")
            if (c.status, code) == UPSTREAM_DOWN and c.label in allowed:
                continue
            problems.append(f"{c.method} {c.path} [{c.label}] -> {c.status} {short_traceback(c.content)}")
        return problems

    def envelope_problems(self) -> list[str]:
        problems = []
        for c in self.calls:
            problem = envelope_problem(c.status, c.content, c.content_type)
            if problem:
                problems.append(f"{c.method} {c.path} [{c.label}] {problem}")
        return problems


def short_traceback(content: bytes) -> str:
    """A response body as is, or, for a view that raised, our own frames and the error."""
    text = content.decode(errors="replace")
    if not text.startswith("Traceback"):
        return text[:300]
    lines = text.rstrip().splitlines()
    ours = [
        line.strip().removeprefix("File ")
        for line in lines
        if line.strip().startswith('File "') and "/.venv/" not in line and "/lib/python3" not in line
    ]
    return " <- ".join(reversed(ours)) + f" :: {lines[-1][:300]}"


# --- webhooks ---------------------------------------------------------------------------------------------


class WebhookRouter:
    """The emulator's webhook sender: one emulator serves both tenants, so each event is posted to the
    webhook URL of the tenant whose upstream account owns the activation.

    ``drop`` loses a share of deliveries (the upstream gave up, or the network ate them) and ``duplicate``
    sends some twice (the upstream retried after a lost answer); both seeded. ``capture`` only stores the
    signed requests, for a test that wants to fire them itself (``fire``), e.g. inside a race.
    """

    def __init__(self, *, tenants_by_key: dict[str, str], seed: int = 0, drop: float = 0.0, duplicate: float = 0.0):
        self.tenants_by_key = tenants_by_key
        self.rng = random.Random(seed)
        self.drop = drop
        self.duplicate = duplicate
        self.capture = False
        self.captured: list[tuple[str, dict, bytes]] = []
        self.answers: list[tuple[int, str | None]] = []  # (status, code) of every delivery
        self.emulator = None
        self._lock = threading.Lock()

    def path_for(self, body: bytes) -> str | None:
        try:
            data = json.loads(body).get("data") or {}
        except ValueError:
            return None
        activation_id = data.get("activation_id") if isinstance(data, dict) else None
        key = self.emulator.api_key_of(activation_id) if activation_id and self.emulator else None
        slug = self.tenants_by_key.get(key or "")
        return f"/webhooks/platfone/{slug}/" if slug else None

    def __call__(self, url: str, headers, body: bytes) -> int:
        path = self.path_for(body)
        if path is None:
            return 200  # account events (low balance) are not what these tests are about
        with self._lock:
            if self.capture:
                self.captured.append((path, dict(headers), body))
                return 200
            dropped = self.rng.random() < self.drop
            twice = self.rng.random() < self.duplicate
        if dropped:
            return 599
        status = self.fire(path, headers, body)
        if twice:
            self.fire(path, headers, body)
        return status

    def fire(self, path: str, headers, body: bytes) -> int:
        response = post_supplier_webhook(path, body, headers, raise_request_exception=False)
        try:
            code = response.json().get("code")
        except ValueError:
            code = None
        with self._lock:
            self.answers.append((response.status_code, code))
        return response.status_code

    def server_errors(self) -> list[str]:
        """5xx answers to deliveries. An event for an activation we do not know yet (an order still in flight, or
        a lost one) is stored and answered 200 like any other: the sweep applies it once the order is recorded, and
        reconciliation follows."""
        return [f"a webhook delivery was answered {status} {code}" for status, code in self.answers if status >= 500]


# --- money ------------------------------------------------------------------------------------------------


def activation_of(reference: str) -> int:
    """The activation id in a ledger reference ("activation:42")."""
    return int(reference.removeprefix("activation:"))


def entries_by_activation(kind: str) -> Counter:
    return Counter(
        activation_of(reference)
        for reference in JournalEntry.objects.filter(kind=kind, reference__startswith="activation:").values_list(
            "reference", flat=True
        )
    )


def upstream_sms(emulator) -> dict[str, dict]:
    """The upstream's activations that received an SMS (and so were billed to the reseller), by id."""
    return {a["activation_id"]: a for a in emulator.activations() if a["sms_status"] in SMS_STATUSES}


def money_problems(
    *, users: Iterable[User], funded: dict[int, int], emulator=None, converged: bool = True
) -> list[str]:
    """Every violation of the settlement rules, as sentences. Empty when the books are right.

    ``funded`` maps user pk → total deposited. With ``converged`` (the system had time to settle) no hold may
    be left on an ended activation, and every upstream SMS must be visible on a placed activation and charged.
    """
    problems: list[str] = []
    report = wallet_selectors.verify_ledger()
    problems += [f"verify_ledger: {d}" for d in report.drifted_accounts]
    problems += [f"verify_ledger: {e}" for e in report.unbalanced_entries]
    try:  # and the operators' command agrees
        call_command("verify_ledger", stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as exc:
        problems.append(f"manage.py verify_ledger: {exc}")
    for key, reference in JournalEntry.objects.filter(kind=JournalEntry.Kind.CHARGE).values_list(
        "idempotency_key", "reference"
    ):
        activation_id = activation_of(reference)
        if key != f"activation:{activation_id}:charge":
            problems.append(f"charge {key!r} of activation #{activation_id} is not keyed activation:<id>:charge")

    charges = entries_by_activation(JournalEntry.Kind.CHARGE)
    refunds = entries_by_activation(JournalEntry.Kind.REFUND)
    active_holds = Counter(
        activation_of(reference)
        for reference in Hold.objects.filter(
            status=Hold.Status.ACTIVE, reference__startswith="activation:"
        ).values_list("reference", flat=True)
    )
    for activation_id, count in charges.items():
        if count > 1:
            problems.append(f"activation #{activation_id} charged {count} times")
    for activation_id, count in refunds.items():
        if count > charges.get(activation_id, 0):
            problems.append(f"activation #{activation_id} refunded {count} times for {charges.get(activation_id)}")
    for activation_id, count in active_holds.items():
        if count > 1:
            problems.append(f"activation #{activation_id} has {count} active holds")

    late_sms = set(
        ReconciliationIssue.objects.filter(kind=ReconciliationIssue.Kind.LATE_SMS).values_list(
            "activation_id", flat=True
        )
    )
    for a in Activation.objects.all():
        charged, refunded, held = charges.get(a.pk, 0), refunds.get(a.pk, 0), active_holds.get(a.pk, 0)
        expected = {
            "held": (0, 0, 1),
            "billed": (1, 0, 0),
            "released": (0, 0, 0),
            "refunded": (1, 1, 0),
        }[a.billing_status]
        if (charged, refunded, held) != expected:
            problems.append(
                f"activation #{a.pk} ({a.order_status}/{a.activation_status}/{a.sms_status}) is {a.billing_status} "
                f"with {charged} charge(s), {refunded} refund(s), {held} active hold(s)"
            )
        if a.billing_status == "held" and not a.is_open:
            problems.append(f"activation #{a.pk} ended ({a.order_status}/{a.activation_status}) but still holds money")
        if converged and a.billing_status == "held" and a.order_status == "ordering":
            problems.append(f"activation #{a.pk} is stuck in 'ordering' with its hold")
        if a.billing_status in {"billed", "refunded"} and not a.sms_received:
            problems.append(f"activation #{a.pk} charged without an SMS ({a.sms_status})")
        if (
            converged
            and a.order_status == "placed"
            and a.sms_received
            and a.billing_status == "released"
            and a.pk not in late_sms
        ):
            problems.append(f"activation #{a.pk} got its SMS but was released without a late-SMS issue")

    for user in users:
        problems += _wallet_problems(user, funded.get(user.pk, 0))

    if emulator is not None and converged:
        problems += _upstream_problems(emulator)
    return problems


def _wallet_problems(user: User, funded: int) -> list[str]:
    """balance = deposits - charges + refunds, and held = the sell prices of the user's held activations."""
    account = Account.objects.filter(user=user, type=Account.Type.USER_WALLET).first()
    if account is None:
        return [] if funded == 0 else [f"{user.email}: no wallet although {funded} cents were deposited"]
    by_kind = dict(
        Posting.objects.filter(account=account).values_list("entry__kind").annotate(total=Sum("amount_cents"))
    )
    problems = []
    if by_kind.get("deposit", 0) != funded:
        problems.append(f"{user.email}: deposits {by_kind.get('deposit', 0)} != funded {funded}")
    expected_balance = funded + by_kind.get("charge", 0) + by_kind.get("refund", 0)
    if account.balance_cents != expected_balance or set(by_kind) - {"deposit", "charge", "refund"}:
        problems.append(f"{user.email}: balance {account.balance_cents} != deposits - charges + refunds {by_kind}")
    activations = Activation.objects.filter(user=user)
    billed = sum(a.sell_price_cents for a in activations if a.billing_status == "billed")
    if account.balance_cents != funded - billed:
        problems.append(
            f"{user.email}: balance {account.balance_cents} != funded {funded} - billed sell prices {billed}"
        )
    held = sum(a.sell_price_cents for a in activations if a.billing_status == "held")
    if account.held_cents != held:
        problems.append(f"{user.email}: held {account.held_cents} != sell prices of held activations {held}")
    if account.balance_cents < 0 or account.held_cents > account.balance_cents:
        problems.append(f"{user.email}: balance {account.balance_cents}, held {account.held_cents}")
    return problems


def _upstream_problems(emulator) -> list[str]:
    """Every SMS the upstream delivered is visible with its code on our side and charged exactly once,
    unless the order was lost (the user was answered 503 and nothing was held), in which case reconciliation
    must have recorded it for operators."""
    problems = []
    ours = {a.upstream_id: a for a in Activation.objects.filter(upstream_id__isnull=False)}
    issues = set(ReconciliationIssue.objects.values_list("upstream_id", flat=True))
    charges = entries_by_activation(JournalEntry.Kind.CHARGE)
    for upstream_id, snapshot in upstream_sms(emulator).items():
        local = ours.get(upstream_id)
        if local is None or local.order_status != "placed":
            if upstream_id not in issues:
                state = "unknown" if local is None else f"#{local.pk} {local.order_status}"
                problems.append(f"upstream SMS on {upstream_id} ({state}) neither placed nor reported by reconcile")
            if local is not None and charges.get(local.pk):
                problems.append(f"lost order #{local.pk} was charged")
            continue
        if local.sms_code != snapshot["sms_code"]:
            problems.append(f"activation #{local.pk}: upstream code {snapshot['sms_code']!r}, ours {local.sms_code!r}")
        if charges.get(local.pk, 0) != 1 and local.billing_status != "released":
            problems.append(f"activation #{local.pk}: SMS delivered, charged {charges.get(local.pk, 0)} times")
    return problems


def age_activations(**filters) -> None:
    """As if time passed: every stored state is older than any freshness window and no sync is claimed."""
    Activation.objects.filter(**filters).update(next_sync_at=None, last_synced_at=None)
