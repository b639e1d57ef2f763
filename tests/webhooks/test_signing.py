"""The signature (``X-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``) and the verification snippets the
README documents, in Python and in JavaScript (run with the machine's node), checked against our signer."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from webhooks import signing

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = ROOT / "docs" / "webhooks"
SECRET = "whsec_test_0123456789abcdef"
BODY = json.dumps({"id": "evt_1", "type": "activation.sms_received", "data": {"code": "531902 ✓"}}).encode()


def python_snippet():
    spec = importlib.util.spec_from_file_location("verify_signature", SNIPPETS / "verify_signature.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.verify_webhook


def cases(now: int) -> list[tuple[str, str, str, bytes, bool]]:
    """(name, secret, header, body, should verify) — every way a request can be right or wrong."""
    header = signing.signature_header([SECRET], now, BODY)
    rotated = signing.signature_header(["whsec_new", SECRET], now, BODY)
    return [
        ("ours", SECRET, header, BODY, True),
        ("rotation: the old secret still verifies", SECRET, rotated, BODY, True),
        ("rotation: the new secret verifies", "whsec_new", rotated, BODY, True),
        ("another secret", "whsec_other", header, BODY, False),
        ("a changed body", SECRET, header, BODY.replace(b"531902", b"000000"), False),
        ("a stale timestamp", SECRET, signing.signature_header([SECRET], now - 600, BODY), BODY, False),
        ("a timestamp from the future", SECRET, signing.signature_header([SECRET], now + 600, BODY), BODY, False),
        ("a moved timestamp", SECRET, header.replace(f"t={now}", f"t={now + 1}"), BODY, False),
        ("no signature", SECRET, f"t={now}", BODY, False),
        ("no timestamp", SECRET, header.split(",", 1)[1], BODY, False),
        ("an empty header", SECRET, "", BODY, False),
        ("garbage", SECRET, "t=abc,v1=zz,=,,v1", BODY, False),
        ("a non-ASCII digit", SECRET, header.replace(f"t={now}", "t=²"), BODY, False),
    ]


def test_the_header_is_stripe_style_hmac_sha256_of_timestamp_dot_body():
    header = signing.signature_header([SECRET], 1700000000, BODY)
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_a_rotation_signs_with_both_secrets_newest_first():
    header = signing.signature_header(["whsec_new", "whsec_old"], 1700000000, BODY)
    new, old = signing.sign("whsec_new", 1700000000, BODY), signing.sign("whsec_old", 1700000000, BODY)
    assert header == f"t=1700000000,v1={new},v1={old}"


def test_secrets_are_prefixed_random_and_long():
    secrets = {signing.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 40 for s in secrets)


@pytest.mark.parametrize("index", range(13))
def test_our_reference_verifier(index):
    name, secret, header, body, expected = cases(int(time.time()))[index]
    assert signing.verify(secret, header, body) is expected, name


@pytest.mark.parametrize("index", range(13))
def test_the_documented_python_snippet_agrees_with_our_signer(index):
    name, secret, header, body, expected = cases(int(time.time()))[index]
    assert python_snippet()(secret, header, body) is expected, name


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_documented_javascript_snippet_agrees_with_our_signer(tmp_path):
    # given: every case, run through the snippet by node in one process
    now = int(time.time())
    table = [
        {
            "name": name,
            "secret": secret,
            "header": header,
            "body": body.decode("utf-8", "replace"),
            "expected": expected,
        }
        for name, secret, header, body, expected in cases(now)
    ]
    (tmp_path / "cases.json").write_text(json.dumps(table))
    runner = tmp_path / "run.js"
    runner.write_text(
        f"const {{ verifyWebhook }} = require({json.dumps(str(SNIPPETS / 'verify_signature.js'))});\n"
        "const cases = require('./cases.json');\n"
        "console.log(JSON.stringify(cases.map((c) => "
        "verifyWebhook(c.secret, c.header, Buffer.from(c.body, 'utf8')))));\n"
    )
    # when
    result = subprocess.run(["node", str(runner)], capture_output=True, text=True, timeout=60, check=False)
    # then
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert {c["name"]: a for c, a in zip(table, answers, strict=True)} == {c["name"]: c["expected"] for c in table}


def test_the_readme_shows_the_snippets_as_tested():
    readme = (ROOT / "README.md").read_text()
    for name in ("verify_signature.py", "verify_signature.js"):
        assert (SNIPPETS / name).read_text().strip() in readme, f"README's copy of {name} differs from the tested one"
