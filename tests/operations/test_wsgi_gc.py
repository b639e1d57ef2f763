"""The WSGI entry point loads every view and freezes what it loaded out of the garbage collector's sight (issue
14: full collections of a warm worker paused it 90-250 ms, the open-loop poll p99). Checked in a fresh interpreter,
as gunicorn's workers load it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, sys
import reseller.wsgi
print(json.dumps({"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects()),
                  "views": "activations.api" in sys.modules and "portal.views.numbers" in sys.modules}))
"""


def test_importing_the_wsgi_application_loads_the_views_and_freezes_them():
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(DEBUG="1", SECRET_KEY="")
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["views"], probe
    assert probe["frozen"] > 3 * probe["tracked"], probe  # most of a loaded process is out of the collector's way
