"""The Celery app of the crash-recovery test's worker: the project's own app and tasks, with a Redis visibility
timeout of seconds instead of an hour, so that the task a killed worker held unacknowledged is handed to the
next worker within the test (``acks_late`` + ``reject_on_worker_lost`` are the project's settings)."""

from reseller.celery import app

VISIBILITY_TIMEOUT_SECONDS = 2

# The app reads Django's settings under the CELERY_ namespace, where the prefixed name wins.
app.conf.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": VISIBILITY_TIMEOUT_SECONDS}
# No remote-control mailbox: the test stops its workers by PID and leaves nothing behind in Redis.
app.conf.CELERY_WORKER_ENABLE_REMOTE_CONTROL = False

__all__ = ["app"]
