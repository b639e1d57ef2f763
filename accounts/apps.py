from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Tenants and users"

    def ready(self):
        from accounts import signals  # noqa: F401  (connects the key cache's invalidation)
