"""Submitting and cancelling runs, and the one function that changes a run's status."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from hub.models import DatasetVersion, ModelVersion, Organization, Split
from hub.permissions import can_write
from hub.selectors import dataset_versions_visible_to, model_versions_visible_to
from hub.services.models import get_or_create_model
from training.engine.config import ConfigError, parse_config
from training.models import ComputePool, FineTuneRun
from training.selectors import pools_usable_by


class TransitionError(RuntimeError):
    """A status change outside FineTuneRun.TRANSITIONS."""


def transition(run: FineTuneRun, status: str, *, note: str = "", **fields: Any) -> FineTuneRun:
    """Move a run (locked by the caller with select_for_update) to ``status`` and save it."""
    if not run.can_become(status):
        raise TransitionError(f"run {run.pk}: {run.status} → {status} is not allowed")
    now = timezone.now()
    if note:
        run.events = [*run.events, {"at": now.isoformat(), "from": run.status, "to": status, "note": note}]
    run.status = status
    if status in FineTuneRun.FINISHED:
        run.finished_at = now
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()
    return run


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
    pool: ComputePool | None = None,
    priority: int = 5,
    output_model_slug: str = "",
) -> FineTuneRun:
    """Check and queue a run; the worker task is sent once the transaction commits.

    A run goes to ``queue`` (cpu, gpu) or, given a ``pool``, to that pool's queue.
    """
    if not can_write(user, organization):
        raise PermissionDenied(f"You may not start runs for {organization.slug}.")
    errors: dict[str, str] = {}
    if not model_versions_visible_to(user).filter(pk=base_version.pk).exists():
        errors["base_version"] = "no such model version, or it is not visible to you"
    if not dataset_versions_visible_to(user).filter(pk=dataset_version.pk).exists():
        errors["dataset_version"] = "no such dataset version, or it is not visible to you"
    elif not {Split.TRAIN, Split.VALIDATION} <= set(dataset_version.files.values_list("split", flat=True)):
        errors["dataset_version"] = "the dataset version needs a train and a validation split"
    if pool is not None:
        if not pools_usable_by(organization).filter(pk=pool.pk).exists():
            errors["pool"] = f"{organization.slug} may not use the compute pool {pool}"
        queue = pool.queue
    elif queue not in settings.AGORA_RUN_QUEUES:
        errors["queue"] = f"must be one of {', '.join(settings.AGORA_RUN_QUEUES)}, not {queue!r}"
    if not 0 <= priority <= 9:
        errors["priority"] = "must be between 0 and 9"
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
            pool=pool,
            priority=priority,
        )
        enqueue_on_commit(run)
    return run


def enqueue_on_commit(run: FineTuneRun) -> None:
    """Send the run's task once the surrounding transaction commits (never for a rolled-back run)."""
    from training.tasks import run_fine_tune

    # Redis pops its priority 0 first; RabbitMQ delivers the highest number first.
    priority = 9 - run.priority if settings.CELERY_BROKER_PRIORITY_INVERTED else run.priority
    run_id, queue = run.pk, run.queue
    transaction.on_commit(lambda: run_fine_tune.apply_async(args=[run_id], queue=queue, priority=priority))


def cancel_run(*, user: User, run: FineTuneRun) -> FineTuneRun:
    """Cancel a queued run at once; ask a running one to stop at its next step."""
    if not can_write(user, run.organization):
        raise PermissionDenied("You may not cancel this run.")
    with transaction.atomic():
        run = FineTuneRun.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            raise ValidationError({"status": f"the run has already ended ({run.status})"})
        run.cancel_requested = True
        if run.status == FineTuneRun.Status.QUEUED:
            transition(run, FineTuneRun.Status.CANCELLED, note=f"cancelled by {user.get_username()}")
        else:
            run.save(update_fields=["cancel_requested"])
    return run
