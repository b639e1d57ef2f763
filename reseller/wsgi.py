import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reseller.settings")
application = get_wsgi_application()

# Import every view now (the URL conf), then move everything loaded so far out of the garbage collector's sight:
# settings, apps, models and views live as long as the process. A full collection under load then scans a fifth
# of the objects and pauses a worker's threads ~10-20 ms instead of ~100 ms, which was the open-loop poll p99
# (bench/findings.md). Each gunicorn worker imports this module itself, so each worker freezes its own.
get_resolver().url_patterns  # noqa: B018 - the import is the point
gc.freeze()
