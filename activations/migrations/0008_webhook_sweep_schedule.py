"""The sweep of stored webhook events the queue did not apply, as a django_celery_beat PeriodicTask."""

from django.db import migrations
from django.utils import timezone

NAME = "Apply stored supplier webhook events the queue missed"
TASK = "activations.sweep_webhook_events"
DESCRIPTION = (
    "A webhook's request stores the event and a notify worker applies it; this applies any left over (a lost "
    "publish, a worker that died, an activation whose order was not recorded yet) for an hour after it arrived."
)


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    interval, _ = IntervalSchedule.objects.get_or_create(every=15, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=NAME, defaults={"task": TASK, "interval": interval, "enabled": True, "description": DESCRIPTION}
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("activations", "0007_webhook_event_applied_at"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
