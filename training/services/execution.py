"""Training a run on a worker: start, progress and heartbeat, and the one transaction that ends it."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from hub import audit
from hub.models import DatasetVersion, ModelVersion, Split
from hub.services.datasets import read_split
from hub.services.models import materialize_version, store_model_version
from training.engine.config import parse_config
from training.models import FineTuneRun, RunMetric
from training.services.evaluation import evaluate_after_run
from training.services.runs import transition

if TYPE_CHECKING:
    from training.engine.finetune import FineTuneResult, Progress

logger = logging.getLogger(__name__)
T = TypeVar("T")
# Tries of a database write after its connection was dropped, and the first pause between them
# (doubled each time: about 15 s in all, long enough for a database fail-over or restart).
RECONNECT_ATTEMPTS = 5
RECONNECT_FIRST_DELAY = 0.5
# How often a running worker looks at the database for a cancellation request.
CANCEL_POLL_SECONDS = 2.0
# The audit action of each way a run ends on its worker.
FINISH_ACTIONS = {
    FineTuneRun.Status.SUCCEEDED: "run.succeed",
    FineTuneRun.Status.FAILED: "run.fail",
    FineTuneRun.Status.CANCELLED: "run.cancelled",
}


def with_reconnect(operation: Callable[[], T], *, attempts: int = RECONNECT_ATTEMPTS) -> T:
    """Run a database operation; when its connection was dropped, reconnect and run it again.

    A worker holds its connection for hours; a database restart or a terminated backend must not
    end the run. Only outside a transaction: inside one, its owner retries the whole transaction.
    """
    delay = RECONNECT_FIRST_DELAY
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or attempt == attempts:
                raise
            logger.warning("database error (%s); reconnecting, try %s of %s", exc, attempt + 1, attempts)
            connection.close()  # the next query opens a new connection
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


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
        return transition(
            run,
            FineTuneRun.Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=run.attempts + 1,
            worker=worker,
            error="",  # a lost earlier attempt's note stays in run.events
            step=0,
            progress=0.0,
        )


def _finish(run: FineTuneRun, status: str, **fields: Any) -> bool:
    """End this attempt of a running run; False when it was ended or re-queued elsewhere meanwhile."""
    with transaction.atomic():
        locked = FineTuneRun.objects.select_for_update().get(pk=run.pk)
        # A worker taken for lost may come back: its attempt no longer owns the run.
        if locked.status != FineTuneRun.Status.RUNNING or locked.attempts != run.attempts:
            return False
        if "accelerator_seconds" not in fields and locked.started_at:
            # A run that did not finish its training still held the worker's device this long.
            fields["accelerator_seconds"] = (timezone.now() - locked.started_at).total_seconds()
        transition(locked, status, **fields)
        after = {"status": status, "error": locked.error, "output_version": locked.output_version}
        audit.record(
            FINISH_ACTIONS[status], actor=None, organization=locked.organization, target=locked,
            before={"status": FineTuneRun.Status.RUNNING}, after={k: v for k, v in after.items() if v},
        )  # fmt: skip
        return True


def _current(run: FineTuneRun):
    """This attempt's row, while it still owns the run."""
    return FineTuneRun.objects.filter(pk=run.pk, attempts=run.attempts, status=FineTuneRun.Status.RUNNING)


class ProgressRecorder:
    """The engine's callbacks: store metric points and the heartbeat, and poll for cancellation."""

    def __init__(self, run: FineTuneRun):
        self.run = run
        self._last_poll = 0.0
        self._cancelled = False

    def __call__(self, progress: Progress) -> None:
        if progress.phase == "train":
            points = {
                "loss": progress.loss,
                "learning_rate": progress.learning_rate,
                "examples_per_second": progress.examples_per_second,
            }
        else:
            # One point per epoch: the validation loss, and any further validation metrics reported.
            points = {"validation_loss": progress.loss}
            extra = getattr(progress, "metrics", None) or {}
            points.update({f"validation_{name}": value for name, value in extra.items() if name != "loss"})
        metrics = [
            RunMetric(run=self.run, step=progress.step, name=name, value=float(value))
            for name, value in points.items()
            if value is not None
        ]
        self._write(lambda: RunMetric.objects.bulk_create(metrics), "metric points")
        self._write(
            lambda: _current(self.run).update(
                step=progress.step,
                total_steps=progress.total_steps,
                progress=progress.step / progress.total_steps if progress.total_steps else 0.0,
                heartbeat_at=timezone.now(),
            ),
            "progress",
        )

    def _write(self, operation: Callable[[], Any], what: str) -> None:
        # Losing a few points while the database is away is better than losing the run.
        try:
            with_reconnect(operation)
        except (OperationalError, InterfaceError):
            logger.exception("run %s: %s not stored", self.run.pk, what)

    def should_stop(self) -> bool:
        if not self._cancelled and time.monotonic() - self._last_poll >= CANCEL_POLL_SECONDS:
            self._last_poll = time.monotonic()
            # Stop too when this attempt lost the run (re-queued by recovery, or ended elsewhere).
            try:
                owned = with_reconnect(_current(self.run).filter(cancel_requested=False).exists)
            except (OperationalError, InterfaceError):
                logger.exception("run %s: could not look for a cancellation", self.run.pk)
                owned = True  # asked again at the next poll
            self._cancelled = not owned
        return self._cancelled


class Heartbeat:
    """Refresh the heartbeat from a thread, through phases that report no progress (loading, saving)."""

    def __init__(self, run: FineTuneRun, interval: float):
        self.run, self.interval = run, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-run-{run.pk}", daemon=True)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    with_reconnect(lambda: _current(self.run).update(heartbeat_at=timezone.now()))
                except Exception:  # a heartbeat must never take the run down; beat again next time
                    logger.exception("heartbeat of run %s failed", self.run.pk)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _examples(version: DatasetVersion, split: str, example_type: Callable) -> list:
    rows = read_split(version, split)
    return [
        example_type(text=row[version.text_field], label=row[version.label_field].strip()) for row in rows
    ]


def _scratch_dir(run: FineTuneRun, attempt: int) -> Path:
    return settings.AGORA_WORK_DIR / f"run-{run.pk}-attempt-{attempt}"


def execute_run(run_id: int, worker: str = "") -> None:
    """Train a queued run on this worker. Called by the Celery task; a second delivery does nothing."""
    # torch and transformers load here, in the worker, never at Django start-up.
    from training.engine.finetune import Example, TrainingCancelled, fine_tune

    run = with_reconnect(partial(_start, run_id, worker))
    if run is None:
        return
    workdir = _scratch_dir(run, run.attempts)
    # An attempt whose worker died on this host left its scratch folder (a checkpoint copy or more).
    for lost_attempt in range(1, run.attempts):
        shutil.rmtree(_scratch_dir(run, lost_attempt), ignore_errors=True)
    recorder = ProgressRecorder(run)
    try:
        with Heartbeat(run, settings.AGORA_RUN_HEARTBEAT_INTERVAL):
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
            # One transaction: after a dropped connection it is rolled back and made again whole.
            with_reconnect(partial(_succeed, run, result, workdir / "output"))
    except TrainingCancelled:
        with_reconnect(
            partial(_finish, run, FineTuneRun.Status.CANCELLED, error="Cancelled at the user's request.")
        )
    except Exception as exc:  # SoftTimeLimitExceeded included: the run ends failed with the reason
        logger.exception("run %s failed", run.pk)
        with_reconnect(partial(_finish, run, FineTuneRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _lineage(run: FineTuneRun, result: FineTuneResult) -> dict[str, Any]:
    """What the version records of how it was made (the run itself stays private to its organization)."""
    wall = (timezone.now() - run.started_at).total_seconds() if run.started_at else None
    optional = ("epochs_completed", "stopped_early", "trainable_parameters", "method")
    return {
        "run_id": run.pk,
        "device": result.device,
        "precision": result.precision,
        "queue": run.queue,
        "wall_seconds": wall,
        "accelerator_seconds": result.train_seconds,
        "steps": result.steps,
        "train_examples": result.train_examples,
        "hyperparameters": run.hyperparameters,
        **{name: getattr(result, name) for name in optional if getattr(result, name, None) is not None},
    }


def _succeed(run: FineTuneRun, result: FineTuneResult, output_dir: Path) -> None:
    """Register the version and end the run in one transaction: no partial version is ever visible."""
    with transaction.atomic():
        version = store_model_version(
            model=run.output_model,
            directory=output_dir,
            origin=ModelVersion.Origin.RUN,
            user=run.created_by,
            base_version=run.base_version,
            dataset_version=run.dataset_version,
            metrics={"validation": result.metrics, "training": _lineage(run, result)},
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
            return
        evaluate_after_run(run, version)
