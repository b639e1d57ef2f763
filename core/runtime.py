"""The local folders the embedded defaults (SQLite, file cache, file-system broker) write to.

Settings only name these folders; they are created once Django is set up, by whichever process starts first
(web, worker, beat or a management command), so a fresh clone runs any of them without ``make run`` first.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def local_folders() -> list[Path]:
    """The folders the configured backends need to exist: the SQLite file's, the file cache's, the broker's."""
    folders: list[Path] = []
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) not in ("", ":memory:"):
        folders.append(Path(str(database["NAME"])).parent)
    for cache in settings.CACHES.values():
        if cache["BACKEND"].endswith("FileBasedCache"):
            folders.append(Path(cache["LOCATION"]))
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for name in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            if options.get(name):
                folders.append(Path(str(options[name])))
    return folders


def ensure_local_folders() -> None:
    for folder in local_folders():
        folder.mkdir(parents=True, exist_ok=True)
