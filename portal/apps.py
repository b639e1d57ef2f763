from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Storefront (end-user portal)"

    def ready(self) -> None:
        from core.events import event_committed
        from portal.tasks import on_event_committed

        # A code that arrives is mailed to users who asked for it in their settings.
        event_committed.connect(on_event_committed, dispatch_uid="portal.code_email")
