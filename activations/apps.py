from django.apps import AppConfig


class ActivationsConfig(AppConfig):
    name = "activations"

    def ready(self) -> None:
        # Register the tasks in every process, not only in workers (which import them by autodiscovery): the
        # supplier webhook's request hands its event to ``activations.apply_webhook_event`` by name.
        from activations import tasks  # noqa: F401
