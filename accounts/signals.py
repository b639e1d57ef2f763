"""Any save or delete of a tenant, user or API key drops the affected entries of the API key cache
(``accounts.key_cache``): a suspension or a changed limit made in any screen takes effect on the next request."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts import key_cache
from accounts.models import ApiKey, Tenant, User

# Saves that touch only these columns change nothing the cache holds.
_IRRELEVANT = {
    Tenant: {"platfone_api_key", "platfone_webhook_secret", "platfone_account_digest", "topup_instructions"},
    User: {"last_login", "password"},
    ApiKey: {"last_used_at"},
}


def _relevant(sender, update_fields, created=False) -> bool:
    if created:
        return False  # a new row has no cache entry yet
    return update_fields is None or not set(update_fields) <= _IRRELEVANT[sender]


@receiver(post_save, sender=Tenant)
@receiver(post_delete, sender=Tenant)
def _tenant_changed(sender, instance, update_fields=None, created=False, **kwargs):
    if _relevant(sender, update_fields, created):
        key_cache.invalidate_tenant(instance.pk)


@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
def _user_changed(sender, instance, update_fields=None, created=False, **kwargs):
    if _relevant(sender, update_fields, created):
        key_cache.invalidate_user(instance.pk)


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
def _key_changed(sender, instance, update_fields=None, created=False, **kwargs):
    if _relevant(sender, update_fields, created):
        key_cache.invalidate_keys([instance.hashed_key])
