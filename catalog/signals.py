"""A markup rule saved or deleted, or a service or country saved, anywhere (the admin, a service, a shell)
invalidates the tenant's cached pricing terms at once (``catalog.pricing``): the next quote uses the edit."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.models import Country, MarkupRule, Service
from catalog.pricing import pricing_terms_invalidate


@receiver(post_save, sender=Service)
@receiver(post_save, sender=Country)
@receiver(post_save, sender=MarkupRule)
@receiver(post_delete, sender=MarkupRule)
def _pricing_changed(sender, instance, **kwargs):
    pricing_terms_invalidate(tenant_id=instance.tenant_id)
