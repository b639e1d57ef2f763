from django.apps import AppConfig


class PlatfoneConfig(AppConfig):
    """The upstream client and emulator; no models."""

    name = "platfone"
    verbose_name = "Platfone upstream"
