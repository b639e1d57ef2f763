"""Settings for benchmark runs: the production settings plus the bare "ceiling" route (``bench.urls``).

Enabled only by starting a process with ``DJANGO_SETTINGS_MODULE=bench.settings`` (``bench/run.py`` does).
"""

from reseller.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
