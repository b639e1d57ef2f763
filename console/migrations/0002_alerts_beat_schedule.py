"""The alert check as a django_celery_beat PeriodicTask (operators edit it in the console's schedules)."""

from django.db import migrations
from django.utils import timezone

NAME = "Check operator alerts"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    interval, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME,
        defaults={
            "task": "console.check_alerts",
            "interval": interval,
            "enabled": True,
            "description": "Low supplier balance, success rate near the 7 % block, ledger drift, webhook silence, "
            "reconciliation issues, supplier 429s: shown on the dashboard, e-mailed once per condition.",
        },
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0001_alerts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
