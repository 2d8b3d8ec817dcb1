"""Submitting and cancelling runs, and the one function that changes a run's status."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from kombu.exceptions import OperationalError as KombuOperationalError

from governance.policy_engine import USE_TAGS
from governance.services.policy_checks import check_run, reasons_text
from hub import audit
from hub.licenses import normalize_license
from hub.models import DatasetVersion, ModelVersion, Organization, RegisteredModel, Split
from hub.permissions import can_write
from hub.selectors import dataset_versions_visible_to, model_versions_visible_to
from hub.services.models import get_or_create_model
from training.engine.config import ConfigError, parse_config
from training.models import ComputePool, FineTuneRun
from training.selectors import pools_usable_by

logger = logging.getLogger(__name__)


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
    intended_use: Sequence[str] = (),
    license: str = "",
) -> FineTuneRun:
    """Check and queue a run; the worker task is sent once the transaction commits.

    A run goes to ``queue`` (cpu, gpu) or, given a ``pool``, to that pool's queue. The policy engine
    checks access to the inputs, the declared uses and the licence flow into the new model's licence
    (``license``, default: the output model's, else the base model's); a refused run is stored
    ``rejected`` with every reason and never queued.
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
    unknown_uses = sorted(set(intended_use) - set(USE_TAGS))
    if unknown_uses:
        errors["intended_use"] = f"unknown use tags: {', '.join(unknown_uses)}; see the list of use tags"
    if license:
        try:
            license = normalize_license(license)
        except ValueError as exc:
            errors["license"] = str(exc)
    existing = RegisteredModel.objects.filter(organization=organization, slug=output_model_slug).first()
    proposed_license = existing.license if existing else (license or base_version.model.license)
    if existing and license and license != existing.license:
        errors["license"] = (
            f"{existing.full_name} is licensed {existing.license}; its versions keep that licence"
        )
    if errors:
        raise ValidationError(errors)
    config = validate_hyperparameters(hyperparameters)

    with transaction.atomic():
        check = check_run(
            user=user,
            organization=organization,
            dataset=dataset_version.dataset,
            base_model=base_version.model,
            intended_use=intended_use,
            proposed_license=proposed_license,
        )
        fields = {
            "organization": organization,
            "created_by": user,
            "base_version": base_version,
            "dataset_version": dataset_version,
            "hyperparameters": config,
            "queue": queue,
            "pool": pool,
            "priority": priority,
            "intended_use": list(intended_use),
            "license": proposed_license,
            "policy_check": check,
        }
        if not check.passed:
            reasons = reasons_text(check)
            run = FineTuneRun.objects.create(
                **fields,
                status=FineTuneRun.Status.REJECTED,
                error=reasons,
                finished_at=timezone.now(),
                events=[
                    {
                        "at": timezone.now().isoformat(),
                        "from": "",
                        "to": "rejected",
                        "note": f"policy check: {reasons}",
                    }
                ],
            )
            audit.record(
                "run.reject",
                actor=user,
                organization=organization,
                target=run,
                after={"status": run.status, "reasons": check.reasons},
            )
            return run
        output_model = existing or get_or_create_model(
            user=user,
            organization=organization,
            slug=output_model_slug,
            name=f"{base_version.model.name} fine-tuned on {dataset_version.dataset.name}",
            license=proposed_license,
            description=f"Fine-tuned from {base_version} on {dataset_version}.",
        )
        run = FineTuneRun.objects.create(**fields, output_model=output_model)
        audit.record(
            "run.submit",
            actor=user,
            organization=organization,
            target=run,
            after={
                "status": run.status,
                "queue": run.queue,
                "base_version": str(base_version),
                "dataset_version": str(dataset_version),
                "intended_use": run.intended_use,
            },
        )
        enqueue_on_commit(run)
    return run


def enqueue_on_commit(run: FineTuneRun) -> None:
    """Send the run's task once the surrounding transaction commits (never for a rolled-back run)."""
    # A lambda, not a partial: robust on_commit logs a failure by the callable's __qualname__.
    transaction.on_commit(lambda: send_run_task(run), robust=True)


def send_run_task(run: FineTuneRun) -> bool:
    """Send a queued run's task to its queue; False when the broker cannot be reached.

    The run is committed ``queued`` before this is called, so a broker outage must not lose it nor
    fail the request that stored it: the failed send is noted in ``run.events`` and
    ``resend_unclaimed_runs`` sends it again once the broker is back.
    """
    from training.tasks import run_fine_tune

    # Redis pops its priority 0 first; RabbitMQ delivers the highest number first.
    priority = 9 - run.priority if settings.CELERY_BROKER_PRIORITY_INVERTED else run.priority
    try:
        run_fine_tune.apply_async(args=[run.pk], queue=run.queue, priority=priority)
    except (KombuOperationalError, OSError) as exc:
        logger.warning("run %s: the broker could not be reached (%s); it will be sent again", run.pk, exc)
        _note_queued(
            run.pk, f"not sent: the broker could not be reached ({exc}); sent again later", unsent=True
        )
        return False
    return True


def _note_queued(run_id: int, note: str, **extra: Any) -> None:
    """Add an event to a run that is (still) queued; its status does not change."""
    with transaction.atomic():
        run = (
            FineTuneRun.objects.select_for_update()
            .filter(pk=run_id, status=FineTuneRun.Status.QUEUED)
            .first()
        )
        if run is None:
            return
        event = {
            "at": timezone.now().isoformat(),
            "from": run.status,
            "to": run.status,
            "note": note,
            **extra,
        }
        run.events = [*run.events, event]
        run.save(update_fields=["events"])


def _last_sent(run: FineTuneRun) -> tuple[datetime, bool]:
    """When the run's task was last sent to the broker, or tried and failed (second value True)."""
    for event in reversed(run.events):
        if event.get("to") == FineTuneRun.Status.QUEUED:
            return datetime.fromisoformat(event["at"]), bool(event.get("unsent"))
    return run.created_at, False


def resend_unclaimed_runs(*, now: datetime | None = None, timeout: float | None = None) -> list[int]:
    """Send again the task of every run queued for ``timeout`` s that no worker took, or never sent.

    A broker that keeps nothing on disk forgets its queued messages when it restarts; the run would
    stay queued for ever. Sending it again is safe: the worker moves a run from queued to running
    under a row lock, so a duplicate delivery finds it running, or ended, and does nothing.
    A run whose last send failed is sent again at once; the next send waits ``timeout`` again.
    """
    now = now or timezone.now()
    timeout = queue_timeout() if timeout is None else timeout
    cutoff = now - timedelta(seconds=timeout)
    resent = []
    queued = FineTuneRun.objects.filter(status=FineTuneRun.Status.QUEUED).only(
        "created_at", "events", "queue", "priority"
    )
    for run in queued:
        sent_at, unsent = _last_sent(run)
        if unsent or sent_at <= cutoff:
            reason = "the last send failed" if unsent else f"no worker took it for {timeout:g} s"
            _note_queued(run.pk, f"sent again: {reason}")
            if send_run_task(run):
                resent.append(run.pk)
    return resent


def queue_timeout() -> float:
    """Seconds a queued run waits for a worker before its task is sent again (AGORA_RUN_QUEUE_TIMEOUT)."""
    return float(settings.AGORA_RUN_QUEUE_TIMEOUT)


def cancel_run(*, user: User, run: FineTuneRun) -> FineTuneRun:
    """Cancel a queued run at once; ask a running one to stop at its next step."""
    if not can_write(user, run.organization):
        raise PermissionDenied("You may not cancel this run.")
    with transaction.atomic():
        run = FineTuneRun.objects.select_for_update().get(pk=run.pk)
        if run.is_finished:
            raise ValidationError({"status": f"the run has already ended ({run.status})"})
        before = {"status": run.status, "cancel_requested": run.cancel_requested}
        run.cancel_requested = True
        if run.status == FineTuneRun.Status.QUEUED:
            transition(run, FineTuneRun.Status.CANCELLED, note=f"cancelled by {user.get_username()}")
        else:
            run.save(update_fields=["cancel_requested"])
        audit.record(
            "run.cancel",
            actor=user,
            organization=run.organization,
            target=run,
            before=before,
            after={"status": run.status, "cancel_requested": True},
        )
    return run
