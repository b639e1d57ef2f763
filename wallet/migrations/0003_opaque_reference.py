"""The ledger names an opaque reference ("activation:42") instead of an activation id column.

Existing rows keep their meaning: ``activation_id = N`` becomes ``reference = "activation:N"``. Journal entries
are append-only on PostgreSQL (migration 0002's trigger refuses UPDATE); this one-time conversion of a
non-money column lifts that trigger inside the migration's own transaction and puts it back before commit.
"""

from django.db import migrations, models
from django.db.models import Q, Value
from django.db.models.functions import Cast, Concat


def to_reference(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute("ALTER TABLE wallet_journalentry DISABLE TRIGGER wallet_journalentry_append_only")
    for name in ("JournalEntry", "Hold"):
        model = apps.get_model("wallet", name)
        model.objects.filter(activation_id__isnull=False).update(
            reference=Concat(Value("activation:"), Cast("activation_id", models.CharField()))
        )
    if postgres:
        schema_editor.execute("ALTER TABLE wallet_journalentry ENABLE TRIGGER wallet_journalentry_append_only")


def to_activation_id(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute("ALTER TABLE wallet_journalentry DISABLE TRIGGER wallet_journalentry_append_only")
    for name in ("JournalEntry", "Hold"):
        model = apps.get_model("wallet", name)
        for pk, reference in model.objects.filter(reference__startswith="activation:").values_list("pk", "reference"):
            model.objects.filter(pk=pk).update(activation_id=int(reference.split(":", 1)[1]))
    if postgres:
        schema_editor.execute("ALTER TABLE wallet_journalentry ENABLE TRIGGER wallet_journalentry_append_only")


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0002_postgres_ledger_triggers"),
    ]

    operations = [
        migrations.AddField(
            model_name="journalentry",
            name="reference",
            field=models.CharField(blank=True, default="", max_length=100),
        ),
        migrations.AddField(
            model_name="hold",
            name="reference",
            field=models.CharField(blank=True, db_index=True, default="", max_length=100),
        ),
        migrations.RunPython(to_reference, to_activation_id),
        migrations.RemoveIndex(model_name="journalentry", name="wallet_entry_activation_idx"),
        migrations.RemoveField(model_name="journalentry", name="activation_id"),
        migrations.RemoveField(model_name="hold", name="activation_id"),
        migrations.AddIndex(
            model_name="journalentry",
            index=models.Index(
                condition=~Q(reference=""), fields=["tenant", "reference"], name="wallet_entry_reference_idx"
            ),
        ),
    ]
