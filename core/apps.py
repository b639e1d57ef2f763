from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.runtime import ensure_local_folders

        # Every process (web, worker, beat, manage.py) needs the folders of the embedded defaults before it
        # touches them; settings only name them.
        ensure_local_folders()
