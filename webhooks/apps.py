from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Customer webhooks"

    def ready(self) -> None:
        from core.events import event_committed
        from webhooks.tasks import on_event_committed

        # The outbox tells us of each committed event; its delivery starts at once (the sweep catches the rest).
        event_committed.connect(on_event_committed, dispatch_uid="webhooks.fan_out")
