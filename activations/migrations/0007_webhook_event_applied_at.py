"""Webhook events are stored by the request and applied by a worker: ``applied_at`` says which are done. Every
event stored before this migration was applied in its request, so it is marked applied when it was received."""

from django.db import migrations, models


def mark_stored_events_applied(apps, schema_editor):
    WebhookEvent = apps.get_model("activations", "WebhookEvent")
    WebhookEvent.objects.filter(applied_at__isnull=True).update(applied_at=models.F("received_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_storefront_preferences_and_help"),
        ("activations", "0006_closing_for_refund"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookevent",
            name="applied_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(mark_stored_events_applied, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="webhookevent",
            index=models.Index(
                condition=models.Q(("applied_at__isnull", True)), fields=["received_at"], name="webhook_event_unapplied"
            ),
        ),
    ]
