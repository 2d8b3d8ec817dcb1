"""Runs whose worker was lost (killed, out of memory, machine gone): re-queue them or fail them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.services.evaluations import fail_stale_reports
from hub import audit
from training.models import FineTuneRun
from training.services.evaluation import resend_unclaimed_evaluations
from training.services.runs import enqueue_on_commit, resend_unclaimed_runs, transition

logger = logging.getLogger(__name__)
# The audit action of each way recovery ends a lost attempt.
RECOVERY_ACTIONS = {
    FineTuneRun.Status.QUEUED: "run.requeue",
    FineTuneRun.Status.FAILED: "run.fail",
    FineTuneRun.Status.CANCELLED: "run.cancelled",
}


@dataclass(frozen=True)
class Recovered:
    run_id: int
    status: str  # "queued" (sent again) or "failed"
    reason: str


def recover_stale_runs(
    *,
    now: datetime | None = None,
    timeout: float | None = None,
    max_attempts: int | None = None,
    queue_timeout: float | None = None,
) -> list[Recovered]:
    """Re-queue, or fail once out of attempts, every running run with no heartbeat for ``timeout`` s.

    First, the task of each run queued for ``queue_timeout`` s that no worker took (its message
    lost with a restarted broker), or never sent (broker down), is sent again.
    """
    now = now or timezone.now()
    recovered = [
        Recovered(run_id, FineTuneRun.Status.QUEUED, "no worker took it: its task was sent again")
        for run_id in resend_unclaimed_runs(now=now, timeout=queue_timeout)
    ]
    report_timeout = settings.AGORA_RUN_QUEUE_TIMEOUT if queue_timeout is None else queue_timeout
    resent_reports = resend_unclaimed_evaluations(now=now, timeout=report_timeout)
    if resent_reports:
        logger.warning("evaluations %s: not taken by a worker, sent again", resent_reports)
    timeout = settings.AGORA_RUN_HEARTBEAT_TIMEOUT if timeout is None else timeout
    max_attempts = settings.AGORA_RUN_MAX_ATTEMPTS if max_attempts is None else max_attempts
    cutoff = now - timedelta(seconds=timeout)
    stale = FineTuneRun.objects.filter(status=FineTuneRun.Status.RUNNING, heartbeat_at__lt=cutoff)
    lost_reports = fail_stale_reports(now - timedelta(seconds=settings.AGORA_EVALUATION_TIMEOUT))
    if lost_reports:
        logger.warning("%s evaluation reports failed: their worker was lost", lost_reports)
    for run_id in stale.values_list("pk", flat=True):
        outcome = _recover(run_id, cutoff, max_attempts)
        if outcome:
            logger.warning("run %s: %s", run_id, outcome.reason)
            recovered.append(outcome)
    return recovered


def _recover(run_id: int, cutoff: datetime, max_attempts: int) -> Recovered | None:
    with transaction.atomic():
        run = FineTuneRun.objects.select_for_update().get(pk=run_id)
        # Checked again under the lock: the worker may have beaten or finished since the query.
        if run.status != FineTuneRun.Status.RUNNING or not run.heartbeat_at or run.heartbeat_at >= cutoff:
            return None
        lost = f"worker lost: no heartbeat since {run.heartbeat_at:%Y-%m-%d %H:%M:%S %Z}"
        if run.worker:
            lost += f" from {run.worker}"
        attempt = f"attempt {run.attempts} of {max_attempts}"
        if run.cancel_requested:
            reason = f"{lost}; cancelled at the user's request"
            transition(run, FineTuneRun.Status.CANCELLED, note=reason, error=reason)
        elif run.attempts < max_attempts:
            reason = f"{lost}; {attempt}, queued again"
            transition(run, FineTuneRun.Status.QUEUED, note=reason, error=reason, worker="")
            enqueue_on_commit(run)
        else:
            reason = f"{lost}; {attempt}"
            transition(run, FineTuneRun.Status.FAILED, note=reason, error=reason)
        audit.record(
            RECOVERY_ACTIONS[run.status], actor=None, organization=run.organization, target=run,
            before={"status": FineTuneRun.Status.RUNNING, "attempts": run.attempts},
            after={"status": run.status, "reason": reason},
        )  # fmt: skip
        return Recovered(run.pk, run.status, reason)
