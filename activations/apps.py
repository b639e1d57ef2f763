from django.apps import AppConfig


class ActivationsConfig(AppConfig):
    name = "activations"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web ones included): services queue them by name.
        from activations import tasks  # noqa: F401
