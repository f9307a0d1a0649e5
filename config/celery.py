import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("tierboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# One attempt at the broker, a short connect timeout, and no result-backend subscription (the task's
# own record is its result): with Redis down the default policies retried for 19 s before a 500.
PUBLISH_ONCE = {"max_retries": 0, "socket_connect_timeout": 2, "socket_timeout": 2}


def publish_once(task, **kwargs):
    """Queue `task` with one fast attempt; kombu's OperationalError if the broker cannot be reached.

    Returns the task's result handle. With eager tasks (the demo, no broker) the task has already run
    when this returns and `result.result` is its return value, so a caller can say "done" rather than
    "queued"."""
    options = {**(task.app.conf.broker_transport_options or {}), **PUBLISH_ONCE}
    with task.app.connection_for_write(connect_timeout=2, transport_options=options) as connection:
        return task.apply_async(kwargs=kwargs, connection=connection, retry=False, ignore_result=True)
