import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reseller.settings")
application = get_wsgi_application()

# Import every view now (the URL conf), collect what loading left behind, then move everything that is left out of
# the garbage collector's sight: settings, apps, models and views live as long as the process. Without this, a full
# collection of a warm worker scans ~140,000 objects and stops all its threads for 90-250 ms every ~1,500 requests,
# which was the open-loop poll p99 (bench/findings.md); with it, a full collection takes a few milliseconds. Each
# gunicorn worker imports this module itself, so each worker freezes its own.
get_resolver().url_patterns  # noqa: B018 - the import is the point
gc.collect()
gc.freeze()
