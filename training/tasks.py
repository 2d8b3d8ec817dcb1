"""Celery tasks: thin wrappers around training.services."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from training import services

# A database out of reach when a task starts (restarting, failing over): try the task again later.
# Sending a run twice is safe: only the delivery that moves it from queued to running trains it.
DATABASE_RETRY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


@shared_task(name="training.run_fine_tune", bind=True, acks_late=True, ignore_result=True, **DATABASE_RETRY)
def run_fine_tune(self, run_id: int) -> None:
    services.execute_run(run_id, worker=self.request.hostname or "")


@shared_task(name="training.evaluate_version", acks_late=True, ignore_result=True)
def evaluate_version(report_id: int) -> None:
    services.execute_evaluation(report_id)


@shared_task(name="training.recover_stale_runs", ignore_result=True, **DATABASE_RETRY)
def recover_stale_runs() -> int:
    """Sent every minute by celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    return len(services.recover_stale_runs())
