"""The Celery application: `celery -A reseller worker` and `celery -A reseller beat` (or a worker with `-B`)."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reseller.settings")

app = Celery("reseller")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def refuse_an_unmigrated_database(**kwargs) -> None:
    """A worker or beat on a database without its tables would fail on every task and tick: stop at once, and
    say what to do, instead."""
    import django

    django.setup()
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise SystemExit("The database is not migrated: run `python manage.py migrate` first.")
