"""Celery tasks: thin wrappers around training.services."""

from celery import shared_task

from training import services


@shared_task(name="training.run_fine_tune", bind=True, acks_late=True, ignore_result=True)
def run_fine_tune(self, run_id: int) -> None:
    services.execute_run(run_id, worker=self.request.hostname or "")


@shared_task(name="training.evaluate_version", acks_late=True, ignore_result=True)
def evaluate_version(report_id: int) -> None:
    services.execute_evaluation(report_id)


@shared_task(name="training.recover_stale_runs", ignore_result=True)
def recover_stale_runs() -> int:
    """Sent every minute by celery beat (settings.CELERY_BEAT_SCHEDULE)."""
    return len(services.recover_stale_runs())
