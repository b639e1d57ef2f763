"""The Procfile runs exactly the production processes of README's "Production" section, and the README blocks
that .ci/production.sh runs as written are there (an empty block would make that CI step pass vacuously)."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    entries = [line.split(": ", 1) for line in lines]
    return {name: command for name, command in entries}


def test_the_procfile_has_the_two_web_pools_the_two_workers_and_one_beat():
    processes = procfile()
    assert list(processes) == ["web", "webhooks", "worker", "notify", "beat"]
    assert processes["web"].startswith(".venv/bin/python -m gunicorn reseller.wsgi --bind ${WEB_BIND:-127.0.0.1:8000}")
    assert processes["webhooks"].startswith(
        ".venv/bin/python -m gunicorn reseller.wsgi --bind ${WEBHOOK_BIND:-127.0.0.1:8010}"
    )
    assert processes["worker"].startswith(".venv/bin/python -m celery -A reseller worker ")
    assert processes["beat"].startswith(".venv/bin/python -m celery -A reseller beat ")
    # the notify worker serves only the notify queue, under its own node name; the main worker serves every queue
    assert processes["notify"].startswith(".venv/bin/python -m celery -A reseller worker -Q notify -n notify@%h ")
    assert not re.search(r"(^|\s)(-Q|--queues)(\s|=)", processes["worker"])
    # beat runs once, on its own: never embedded in a worker (-B would run every periodic task once per worker)
    for worker in ("worker", "notify"):
        assert not re.search(r"(^|\s)(-B|--beat)(\s|$)", processes[worker])


def readme_block(name: str) -> str:
    script = (ROOT / ".ci" / "production.sh").read_text()
    function = script[script.index("readme_block() {") : script.index("\n}\n", script.index("readme_block() {")) + 3]
    result = subprocess.run(  # noqa: S603 - fixed argv
        ["bash", "-c", f"{function}\nreadme_block {name}"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout


def test_the_readme_blocks_ci_runs_are_found_and_hold_the_documented_steps():
    install = readme_block("install")
    assert "manage.py migrate --noinput" in install and "manage.py collectstatic --noinput" in install
    tenant = readme_block("tenant")
    for command in ("create_tenant", "sync_catalog", "create_user", "create_api_key", "wallet_credit", "doctor"):
        assert f"manage.py {command} " in tenant
    assert "```" not in install + tenant
