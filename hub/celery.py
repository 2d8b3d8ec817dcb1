"""The Celery application. Workers start it with ``celery -A hub worker``."""

import os
from contextlib import ExitStack

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

app = Celery("agora")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The audit origin of each task running in this process, by task id: entered before the task
# runs and left after it, in the same thread, so changes a task makes are logged as "worker".
_task_origins: dict[str, ExitStack] = {}


@task_prerun.connect(dispatch_uid="hub.celery.enter_worker_origin")
def enter_worker_origin(task_id: str, **kwargs) -> None:
    from hub.audit import origin  # hub.audit imports Django models: not before the app is set up

    stack = ExitStack()
    stack.enter_context(origin("worker"))
    _task_origins[task_id] = stack


@task_postrun.connect(dispatch_uid="hub.celery.leave_worker_origin")
def leave_worker_origin(task_id: str, **kwargs) -> None:
    stack = _task_origins.pop(task_id, None)
    if stack is not None:
        stack.close()
