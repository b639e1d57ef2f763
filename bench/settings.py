"""Settings for benchmark runs: the production settings plus the bare "ceiling" route (``bench.urls``).

Enabled only by starting a process with ``DJANGO_SETTINGS_MODULE=bench.settings`` (``bench/run.py`` does).
"""

import gc
import os
import time
from pathlib import Path

from reseller.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"


def _log_gc_pauses(directory: str) -> None:
    """Append each garbage-collection pause of 5 ms or more to ``<directory>/gc-<pid>.txt`` as "monotonic-start ms
    generation", so that the open-loop phase can tell a collector pause from other stalls (``bench/run.py``)."""
    started = [0.0]
    out = (Path(directory) / f"gc-{os.getpid()}.txt").open("a", buffering=1)

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.monotonic()
            return
        pause_ms = (time.monotonic() - started[0]) * 1000
        if pause_ms >= 5:
            out.write(f"{started[0]:.4f} {pause_ms:.1f} {info['generation']}\n")

    gc.callbacks.append(callback)


if os.environ.get("BENCH_GC_LOG_DIR"):
    _log_gc_pauses(os.environ["BENCH_GC_LOG_DIR"])
