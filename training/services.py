"""Fine-tuning runs: submission, execution on a worker, cancellation.

A run's status changes only here, under a row lock, so a task delivered twice does no harm.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from hub.models import DatasetVersion, ModelVersion, Organization, Split
from hub.permissions import can_write
from hub.selectors import dataset_versions_visible_to, model_versions_visible_to
from hub.services.datasets import read_split
from hub.services.models import get_or_create_model, materialize_version, store_model_version
from training.engine.config import ConfigError, parse_config
from training.models import FineTuneRun, RunMetric

if TYPE_CHECKING:
    from training.engine.finetune import FineTuneResult, Progress

logger = logging.getLogger(__name__)
# How often a running worker looks at the database for a cancellation request.
CANCEL_POLL_SECONDS = 2.0


def validate_hyperparameters(values: dict[str, Any] | None) -> dict[str, Any]:
    try:
        return parse_config(values).to_dict()
    except ConfigError as exc:
        raise ValidationError(exc.errors) from None


def submit_run(
    *,
    user: User,
    organization: Organization,
    base_version: ModelVersion,
    dataset_version: DatasetVersion,
    hyperparameters: dict[str, Any] | None = None,
    queue: str = "cpu",
    output_model_slug: str = "",
) -> FineTuneRun:
    """Check and queue a run; the worker task is sent once the transaction commits."""
    if not can_write(user, organization):
        raise PermissionDenied(f"You may not start runs for {organization.slug}.")
    errors: dict[str, str] = {}
    if not model_versions_visible_to(user).filter(pk=base_version.pk).exists():
        errors["base_version"] = "no such model version, or it is not visible to you"
    if not dataset_versions_visible_to(user).filter(pk=dataset_version.pk).exists():
        errors["dataset_version"] = "no such dataset version, or it is not visible to you"
    elif not {Split.TRAIN, Split.VALIDATION} <= set(dataset_version.files.values_list("split", flat=True)):
        errors["dataset_version"] = "the dataset version needs a train and a validation split"
    if queue not in settings.AGORA_RUN_QUEUES:
        errors["queue"] = f"must be one of {', '.join(settings.AGORA_RUN_QUEUES)}, not {queue!r}"
    output_model_slug = (
        output_model_slug or slugify(f"{base_version.model.slug}-{dataset_version.dataset.slug}")[:100]
    )
    if output_model_slug != slugify(output_model_slug):
        errors["output_model"] = "use lower-case letters, digits and hyphens"
    if errors:
        raise ValidationError(errors)
    config = validate_hyperparameters(hyperparameters)

    with transaction.atomic():
        output_model = get_or_create_model(
            user=user,
            organization=organization,
            slug=output_model_slug,
            name=f"{base_version.model.name} fine-tuned on {dataset_version.dataset.name}",
            license=base_version.model.license,
            description=f"Fine-tuned from {base_version} on {dataset_version}.",
        )
        run = FineTuneRun.objects.create(
            organization=organization,
            created_by=user,
            base_version=base_version,
            dataset_version=dataset_version,
            output_model=output_model,
            hyperparameters=config,
            queue=queue,
        )
        transaction.on_commit(lambda: _enqueue(run))
    return run


def _enqueue(run: FineTuneRun) -> None:
    from training.tasks import run_fine_tune

    run_fine_tune.apply_async(args=[run.pk], queue=run.queue)


def cancel_run(*, user: User, run: FineTuneRun) -> FineTuneRun:
    if not can_write(user, run.organization):
        raise PermissionDenied("You may not cancel this run.")
    with transaction.atomic():
        run = FineTuneRun.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            raise ValidationError({"status": f"the run has already ended ({run.status})"})
        if run.status == FineTuneRun.Status.QUEUED:
            run.status = FineTuneRun.Status.CANCELLED
            run.finished_at = timezone.now()
        run.cancel_requested = True
        run.save(update_fields=["status", "finished_at", "cancel_requested"])
    return run


def _start(run_id: int, worker: str) -> FineTuneRun | None:
    """Move a queued run to running; None when it is not queued (a duplicate delivery, or cancelled)."""
    with transaction.atomic():
        run = FineTuneRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            logger.warning("run %s does not exist; dropping its task", run_id)
            return None
        if run.status != FineTuneRun.Status.QUEUED:
            logger.info("run %s is %s, not queued; nothing to do", run_id, run.status)
            return None
        now = timezone.now()
        run.status = FineTuneRun.Status.RUNNING
        run.started_at = run.heartbeat_at = now
        run.attempts += 1
        run.worker = worker
        run.save(update_fields=["status", "started_at", "heartbeat_at", "attempts", "worker"])
        return run


def _finish(run: FineTuneRun, status: str, **fields: Any) -> bool:
    """End a running run; False when it is no longer running (another delivery ended it)."""
    with transaction.atomic():
        locked = FineTuneRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != FineTuneRun.Status.RUNNING:
            return False
        locked.status = status
        locked.finished_at = timezone.now()
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        return True


class ProgressRecorder:
    """The engine's callbacks: store metric points and the heartbeat, and poll for cancellation."""

    def __init__(self, run: FineTuneRun):
        self.run = run
        self._last_poll = 0.0
        self._cancelled = False

    def __call__(self, progress: Progress) -> None:
        now = timezone.now()
        if progress.phase == "train":
            points = {
                "loss": progress.loss,
                "learning_rate": progress.learning_rate,
                "examples_per_second": progress.examples_per_second,
            }
        else:
            points = {"validation_loss": progress.loss}
        RunMetric.objects.bulk_create(
            RunMetric(run=self.run, step=progress.step, name=name, value=float(value))
            for name, value in points.items()
        )
        FineTuneRun.objects.filter(pk=self.run.pk).update(
            step=progress.step,
            total_steps=progress.total_steps,
            progress=progress.step / progress.total_steps if progress.total_steps else 0.0,
            heartbeat_at=now,
        )

    def should_stop(self) -> bool:
        if not self._cancelled and time.monotonic() - self._last_poll >= CANCEL_POLL_SECONDS:
            self._last_poll = time.monotonic()
            self._cancelled = FineTuneRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists()
        return self._cancelled


def _examples(version: DatasetVersion, split: str, example_type: Callable) -> list:
    rows = read_split(version, split)
    return [
        example_type(text=row[version.text_field], label=row[version.label_field].strip()) for row in rows
    ]


def execute_run(run_id: int, worker: str = "") -> None:
    """Train a queued run on this worker. Called by the Celery task."""
    # torch and transformers load here, in the worker, never at Django start-up.
    from training.engine.finetune import Example, TrainingCancelled, fine_tune

    run = _start(run_id, worker)
    if run is None:
        return
    workdir = settings.AGORA_WORK_DIR / f"run-{run.pk}-attempt-{run.attempts}"
    recorder = ProgressRecorder(run)
    try:
        base_dir = materialize_version(run.base_version, workdir / "base")
        result = fine_tune(
            base_model_dir=base_dir,
            train=_examples(run.dataset_version, Split.TRAIN, Example),
            validation=_examples(run.dataset_version, Split.VALIDATION, Example),
            config=parse_config(run.hyperparameters),
            output_dir=workdir / "output",
            on_progress=recorder,
            should_stop=recorder.should_stop,
        )
        _succeed(run, result, workdir / "output")
    except TrainingCancelled:
        _finish(run, FineTuneRun.Status.CANCELLED, error="Cancelled at the user's request.")
    except Exception as exc:
        logger.exception("run %s failed", run.pk)
        _finish(run, FineTuneRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _succeed(run: FineTuneRun, result: FineTuneResult, output_dir: Path) -> None:
    with transaction.atomic():
        version = store_model_version(
            model=run.output_model,
            directory=output_dir,
            origin=ModelVersion.Origin.RUN,
            user=run.created_by,
            base_version=run.base_version,
            dataset_version=run.dataset_version,
            metrics={"validation": result.metrics},
            library_versions=result.library_versions,
        )
        finished = _finish(
            run,
            FineTuneRun.Status.SUCCEEDED,
            output_version=version,
            metrics=result.metrics,
            device=result.device,
            precision=result.precision,
            progress=1.0,
            step=result.steps,
            total_steps=max(result.steps, run.total_steps),
            accelerator_seconds=result.train_seconds,
        )
        if not finished:
            transaction.set_rollback(True)  # the run was ended elsewhere: keep no version of it
