from django.apps import AppConfig


class ResellerConfig(AppConfig):
    name = "reseller"
    verbose_name = "Platform"
