"""Celery tasks of the registry: thin wrappers around hub.services."""

from celery import shared_task

from hub.services import statistics


# No queue here: it goes to the default queue (CELERY_TASK_DEFAULT_QUEUE), which `make up`'s worker serves.
@shared_task(name="hub.compute_dataset_statistics", acks_late=True, ignore_result=True)
def compute_dataset_statistics(version_id: int) -> None:
    statistics.compute_statistics_by_id(version_id)
