"""Storefront branding on tenants and e-mail verification on users (the portal, issue 12).

Users who exist before this migration were created by operators: they are taken as verified."""

import django.core.validators
from django.db import migrations, models
from django.db.models import F

import accounts.models


def mark_existing_users_verified(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.filter(email_verified_at__isnull=True).update(email_verified_at=F("date_joined"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_money_policies"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="brand_logo",
            field=models.ImageField(
                blank=True,
                help_text="PNG, JPEG, WebP or GIF, at most 256 KB; shown about 40 px high in the storefront's header.",
                upload_to="tenant-logos/",
                validators=[accounts.models.validate_logo_size],
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="brand_color",
            field=models.CharField(
                blank=True,
                default="#2563eb",
                help_text="Primary colour (#rrggbb; empty: the default blue). Text on it and a darker shade for links are chosen for contrast.",
                max_length=7,
                validators=[django.core.validators.RegexValidator("^#[0-9a-fA-F]{6}$", "Use a colour like #2563eb.")],
            ),
        ),
        migrations.AddField(
            model_name="tenant",
            name="topup_instructions",
            field=models.TextField(
                blank=True,
                help_text="How users add funds (bank transfer details, whom to contact...), shown on the wallet page.",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="email_verified_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the user proved the address (the storefront asks before a first order).",
                null=True,
            ),
        ),
        migrations.RunPython(mark_existing_users_verified, migrations.RunPython.noop),
    ]
