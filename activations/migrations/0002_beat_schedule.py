"""The activations' periodic tasks as django_celery_beat PeriodicTasks (operators edit them in the admin)."""

from django.db import migrations
from django.utils import timezone

SCHEDULE = [
    ("Sync due activations within the upstream budget", "activations.sync_due", 10,
     "Recently polled and recently created first; keeps 30 % of the upstream budget for users' own polls."),
    ("Expire overdue activations (release holds)", "activations.expire_overdue", 30,
     "Past expire_at without an SMS: confirm upstream or expire locally, releasing the hold."),
    ("Finalize activations whose SMS arrived", "activations.finalize_due", 60,
     "After the tenant's finalize_after_sms_seconds, to free upstream slots (20 active at most)."),
    ("Reconcile with the upstream history", "activations.reconcile", 600,
     "Unknown upstream activations canceled or finalized, lost orders resolved, billing mismatches reported."),
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
        ("activations", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
