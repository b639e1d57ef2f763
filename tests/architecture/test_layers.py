"""The layer rules of DESIGN.md hold (import-linter's contracts in pyproject.toml), and breaking one fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = (
    "core",
    "accounts",
    "wallet",
    "catalog",
    "activations",
    "platfone",
    "reseller",
    "compat",
    "portal",
    "console",
    "webhooks",
    "payments",
)

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is a dev requirement")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_every_contract_is_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden_import", "contract"),
    [
        ("core/api/views.py", "import activations.models", "The base layer (core) imports no app"),
        ("platfone/client.py", "import accounts.models", "platfone imports no app of ours"),
        ("wallet/selectors.py", "import catalog.models", "wallet imports only accounts and the base layer"),
        ("catalog/pricing.py", "import wallet.models", "catalog never imports activations or wallet"),
        ("activations/services/sync.py", "import activations.tasks", "Inside an app"),
        ("accounts/services.py", "import reseller.settings", "No app imports reseller"),
        ("activations/selectors.py", "import compat.actions", "compat is an interface"),
        ("compat/actions.py", "import platfone.client", "compat talks to our services, not to the upstream"),
        ("compat/selectors.py", "import compat.actions", "Inside compat"),
        ("activations/selectors.py", "import portal.presenters", "Nothing imports the portal"),
        ("portal/views/numbers.py", "import activations.models", "The portal reaches the other apps"),
        ("portal/services.py", "import platfone.client", "The portal reaches the other apps"),
        ("portal/forms.py", "import portal.views.base", "Inside the portal"),
        ("wallet/admin.py", "import console.models", "Nothing imports the operator console"),
        ("console/dashboard.py", "import activations.tasks", "The operator console reads through selectors"),
        ("webhooks/services/delivery.py", "import activations.models", "webhooks imports only accounts"),
        ("activations/services/customer_events.py", "import webhooks.models", "Nothing but the top"),
        ("webhooks/selectors.py", "import webhooks.services", "Inside webhooks"),
        ("payments/services.py", "import portal.forms", "payments imports only wallet, accounts"),
        ("wallet/selectors.py", "import payments.models", "Nothing but the top, the portal and the console"),
        ("payments/services.py", "import wallet.models", "payments reaches the ledger through wallet.services"),
        ("payments/selectors.py", "import payments.services", "Inside payments"),
        ("payments/providers/demo.py", "import payments.services", "Inside payments"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, forbidden_import, contract):
    # given a copy of the code with one forbidden import added
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{forbidden_import}  # noqa\n")
    # when
    result = lint_imports(tmp_path)
    # then
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
