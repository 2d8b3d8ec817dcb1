"""Celery tasks of governance: thin wrappers around governance.services."""

from celery import shared_task

from governance.services.snapshots import take_snapshots


@shared_task(name="governance.snapshot_scores", ignore_result=True)
def snapshot_scores() -> int:
    """Sent daily by celery beat (settings.CELERY_BEAT_SCHEDULE): today's snapshots of E, C and F."""
    return take_snapshots()
