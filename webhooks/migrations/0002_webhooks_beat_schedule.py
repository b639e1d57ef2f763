"""The customer webhooks' periodic tasks as django_celery_beat PeriodicTasks (operators edit them in the admin)."""

from django.db import migrations
from django.utils import timezone

SCHEDULE = [
    ("Customer webhooks: retries and lost hand-overs", "webhooks.sweep", 10,
     "Queues the deliveries whose retry is due and fans out events whose after-commit hand-over was lost."),
    ("Customer webhooks: prune old events and delivery logs", "webhooks.prune", 86400,
     "Deletes events and delivery logs older than CUSTOMER_WEBHOOK_LOG_DAYS."),
]


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, seconds, description in SCHEDULE:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True, "description": description}
        )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in SCHEDULE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
