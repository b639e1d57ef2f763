from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Operator console"
    default = True


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """Django's admin, served by the console's site (django-unfold's chrome, the dashboard as its home)."""

    default = False
    default_site = "console.sites.ConsoleAdminSite"
