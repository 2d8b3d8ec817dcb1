"""Evaluating model versions: requests are checked and queued here; a worker runs the model and the
governance app turns its predictions into the report."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

from governance.models import EvaluationReport
from governance.services import evaluations
from hub import audit
from hub.models import DatasetVersion, ModelVersion, Split
from hub.selectors import dataset_versions_visible_to, model_versions_visible_to
from hub.services.datasets import read_split
from hub.services.models import materialize_version
from training.models import FineTuneRun
from training.selectors import metric_series

logger = logging.getLogger(__name__)
EVALUATED_SPLITS = (Split.TEST, Split.VALIDATION, Split.TRAIN)


def _check_evaluable(version: ModelVersion, dataset_version: DatasetVersion, split: str) -> None:
    """Refuse, with the reason, what cannot be scored."""
    if split not in EVALUATED_SPLITS:
        raise ValidationError({"split": f"choose one of {', '.join(EVALUATED_SPLITS)}, not {split!r}"})
    if not dataset_version.row_counts.get(split):
        raise ValidationError({"split": f"{dataset_version} has no {split} records to evaluate on"})
    split_labels = {
        label for label, rows in dataset_version.label_distribution.get(split, {}).items() if rows
    }
    if not split_labels:
        raise ValidationError(
            {"split": f"the {split} split of {dataset_version} has no labels to score against"}
        )
    if not version.labels:
        raise ValidationError(
            {
                "model_version": f"{version} is not a classifier (it has no labels): "
                "fine-tune it on a dataset first"
            }
        )
    unknown = sorted(split_labels - set(version.labels))
    if unknown:
        raise ValidationError(
            {
                "dataset_version": f"the {split} split has labels the model does not predict: "
                f"{', '.join(unknown)} (the model's labels: {', '.join(version.labels)})"
            }
        )


def send_evaluation_task(report_id: int, queue: str) -> bool:
    """Hand a queued report to its queue; False when the broker cannot be reached.

    The report is committed before this is called: an outage must not fail the request that stored it.
    ``resend_unclaimed_evaluations`` sends it again once the broker is back.
    """
    from training.tasks import evaluate_version

    try:
        evaluate_version.apply_async(args=[report_id], queue=queue)
    except (KombuOperationalError, OSError) as exc:
        logger.warning("evaluation %s: the broker is unreachable (%s); sent again later", report_id, exc)
        return False
    evaluations.note_report_sent(report_id)
    return True


def _enqueue_on_commit(report: EvaluationReport) -> None:
    report_id, queue = report.pk, report.queue
    # A lambda, not a partial: robust on_commit logs a failing callback by its __qualname__.
    transaction.on_commit(lambda: send_evaluation_task(report_id, queue), robust=True)


def resend_unclaimed_evaluations(*, now: datetime, timeout: float) -> list[int]:
    """Send again each queued report whose task never reached the broker, or that no worker took for
    ``timeout`` s (a restarted broker forgets its messages). A duplicate delivery does nothing: the
    worker takes a report from queued to running under a row lock."""
    unclaimed = evaluations.unclaimed_reports(now=now, sent_before=now - timedelta(seconds=timeout))
    return [report_id for report_id, queue in unclaimed if send_evaluation_task(report_id, queue)]


def request_evaluation(
    *, user: User, version: ModelVersion, dataset_version: DatasetVersion, split: str = Split.TEST
) -> EvaluationReport:
    """Queue an evaluation of a version the user can see on a dataset split the user can read."""
    if not user.is_authenticated:
        raise PermissionDenied("Sign in to evaluate models.")
    if not model_versions_visible_to(user).filter(pk=version.pk).exists():
        raise ValidationError({"model_version": "no such model version, or you may not read it"})
    if not dataset_versions_visible_to(user).filter(pk=dataset_version.pk).exists():
        raise ValidationError({"dataset_version": "no such dataset version, or you may not read it"})
    _check_evaluable(version, dataset_version, split)
    with transaction.atomic():
        report = EvaluationReport.objects.create(
            model_version=version,
            dataset_version=dataset_version,
            split=split,
            trigger=EvaluationReport.Trigger.REQUEST,
            requested_by=user,
            queue=settings.AGORA_EVALUATION_QUEUE,
        )
        audit.record(
            "evaluation.request", actor=user, organization=version.model.organization, target=report,
            after={"model_version": version, "dataset_version": dataset_version, "split": split},
        )  # fmt: skip
        _enqueue_on_commit(report)
    return report


def evaluate_after_run(run: FineTuneRun, version: ModelVersion) -> EvaluationReport | None:
    """Queue the report of a run's new version on its dataset's test split (validation if none)."""
    dataset_version = run.dataset_version
    split = next((s for s in (Split.TEST, Split.VALIDATION) if dataset_version.row_counts.get(s)), None)
    if split is None:
        return None
    report = EvaluationReport.objects.create(
        model_version=version,
        dataset_version=dataset_version,
        split=split,
        trigger=EvaluationReport.Trigger.RUN,
        requested_by=run.created_by,
        queue=run.queue,  # a worker that trained the run can score it
    )
    _enqueue_on_commit(report)
    return report


# On the worker --------------------------------------------------------------------------------


def _max_length(version: ModelVersion) -> int:
    hyperparameters = version.metrics.get("training", {}).get("hyperparameters", {})
    return int(hyperparameters.get("max_length") or 128)


def _rows(dataset_version: DatasetVersion, split: str) -> tuple[list[str], list[str], list[str] | None]:
    rows = read_split(dataset_version, split)
    texts = [row[dataset_version.text_field] for row in rows]
    labels = [row[dataset_version.label_field].strip() for row in rows]
    group_field = dataset_version.group_field
    groups = [(row.get(group_field) or "").strip() for row in rows] if group_field else None
    return texts, labels, groups


def _predictions(classifier, texts, y_true, groups) -> evaluations.Predictions:
    return evaluations.Predictions(classifier.labels, y_true, classifier.predict_proba(texts), groups)


def _membership_losses(classifier, version: ModelVersion) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Per-record losses of balanced samples of training members and held-out non-members."""
    from governance.metrics.membership import balanced_indices, cross_entropy_losses

    training = version.dataset_version
    if training is None or not training.row_counts.get(Split.TRAIN):
        return None, None, ""
    held_out = next((s for s in (Split.TEST, Split.VALIDATION) if training.row_counts.get(s)), None)
    if held_out is None:
        return None, None, ""
    known = set(classifier.labels)

    def losses(split: str) -> tuple[list[str], list[str]]:
        texts, labels, _ = _rows(training, split)
        kept = [(t, y) for t, y in zip(texts, labels, strict=True) if y in known]
        return [t for t, _ in kept], [y for _, y in kept]

    member_texts, member_labels = losses(Split.TRAIN)
    nonmember_texts, nonmember_labels = losses(held_out)
    limit = settings.AGORA_MEMBERSHIP_SAMPLE
    members, nonmembers = balanced_indices(len(member_texts), len(nonmember_texts), limit=limit, seed=0)
    index = {label: i for i, label in enumerate(classifier.labels)}

    def sample_losses(texts, labels, rows) -> np.ndarray:
        chosen_texts = [texts[i] for i in rows]
        truth = np.array([index[labels[i]] for i in rows], dtype=np.int64)
        return cross_entropy_losses(classifier.predict_proba(chosen_texts), truth)

    return (
        sample_losses(member_texts, member_labels, members),
        sample_losses(nonmember_texts, nonmember_labels, nonmembers),
        held_out,
    )


def _training_curve(version: ModelVersion) -> dict[str, Any] | None:
    run_id = version.metrics.get("training", {}).get("run_id")
    run = FineTuneRun.objects.filter(pk=run_id).first() if run_id else None
    if run is None:
        return None
    return {"run_id": run.pk, "series": metric_series(run)}


def _majority_class(
    version: ModelVersion, dataset_version: DatasetVersion, y_true: list[str]
) -> dict[str, Any]:
    """Always predicting the training data's most frequent label (the evaluated dataset's when unknown)."""
    source = version.dataset_version or dataset_version
    counts = source.label_distribution.get(Split.TRAIN) or dataset_version.label_distribution.get(
        Split.TRAIN, {}
    )
    label = (
        max(sorted(counts), key=lambda name: counts[name]) if counts else max(set(y_true), key=y_true.count)
    )
    return {"label": label, "accuracy": sum(y == label for y in y_true) / len(y_true)}


def _score_version(
    report: EvaluationReport, workdir: Path, comparison_for: EvaluationReport | None = None
) -> EvaluationReport:
    """Run the report's version on its split and store the report; return it."""
    from training.engine.modeling import TextClassifier

    version, dataset_version = report.model_version, report.dataset_version
    texts, y_true, groups = _rows(dataset_version, report.split)
    model_dir = materialize_version(version, workdir / f"version-{version.pk}")
    classifier = TextClassifier(model_dir, max_length=_max_length(version))
    try:
        predictions = _predictions(classifier, texts, y_true, groups)
        members, nonmembers, held_out = _membership_losses(classifier, version)
    finally:
        classifier.close()
    comparison = None
    if comparison_for is None:
        accuracy = float(np.mean([p == t for p, t in zip(predictions.y_pred, y_true, strict=True)]))
        base = _evaluate_base(report, workdir)
        majority = _majority_class(version, dataset_version, y_true)
        comparison = evaluations.comparison_with_baselines(accuracy=accuracy, base=base, majority=majority)
    return evaluations.complete_report(
        report,
        predictions=predictions,
        member_losses=members,
        nonmember_losses=nonmembers,
        nonmember_split=held_out,
        comparison=comparison,
        training_curve=_training_curve(version),
    )


def _evaluate_base(report: EvaluationReport, workdir: Path) -> dict[str, Any] | None:
    """Score the base version on the same split when it is a classifier with the same labels."""
    base = report.model_version.base_version
    if base is None or not base.labels or set(base.labels) != set(report.model_version.labels):
        return None
    baseline = EvaluationReport.objects.create(
        model_version=base,
        dataset_version=report.dataset_version,
        split=report.split,
        trigger=EvaluationReport.Trigger.BASELINE,
        baseline_of=report,
        requested_by=report.requested_by,
        queue=report.queue,
    )
    evaluations.start_report(baseline.pk)
    baseline.refresh_from_db()
    try:
        _score_version(baseline, workdir, comparison_for=report)
    except Exception as exc:
        logger.exception("baseline evaluation of %s failed", base)
        evaluations.fail_report(baseline, f"{type(exc).__name__}: {exc}")
        return None
    return {
        "version": str(base),
        "accuracy": baseline.accuracy,
        "macro_f1": baseline.macro_f1,
        "report_id": baseline.pk,
    }


def execute_evaluation(report_id: int) -> None:
    """Score a queued report on this worker. Called by the Celery task; a second delivery does nothing."""
    report = evaluations.start_report(report_id)
    if report is None:
        return
    workdir = settings.AGORA_WORK_DIR / f"evaluation-{report.pk}"
    try:
        _score_version(report, workdir)
    except Exception as exc:  # the report ends failed with the reason
        logger.exception("evaluation %s failed", report.pk)
        evaluations.fail_report(report, f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
