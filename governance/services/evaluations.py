"""Evaluation reports and PII scans: what is stored, and how a report's numbers are put together.

The predictions come from the worker that ran the model (training.services.evaluation); this module
turns them into the report of scores.md §3 and is the only writer of EvaluationReport and PIIScan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from governance.metrics import classification
from governance.metrics.membership import loss_threshold_attack
from governance.metrics.objective import Weights, leakage_risk, objective
from governance.metrics.pii import scan_records
from governance.models import EvaluationReport, JobStatus, PIIScan
from governance.selectors import objective_weights_for
from hub.models import DatasetVersion, ModelVersion, Split
from hub.services.datasets import read_split

logger = logging.getLogger(__name__)
# Bumped when a detector changes: older cached scans are computed again.
PII_DETECTOR_VERSION = 1
SCANNED_SPLITS = (Split.TRAIN, Split.VALIDATION, Split.TEST)


# PII scans --------------------------------------------------------------------------------------


def ensure_pii_scan(version: DatasetVersion) -> PIIScan:
    """The dataset version's PII scan, computed now unless a current one is cached."""
    scan, _ = PIIScan.objects.get_or_create(dataset_version=version)
    if scan.status == JobStatus.SUCCEEDED and scan.detector_version == PII_DETECTOR_VERSION:
        return scan
    try:
        splits = {}
        for split in SCANNED_SPLITS:
            if not version.row_counts.get(split):
                continue
            result = scan_records(read_split(version, split)).to_dict()
            splits[split] = result
        records = sum(result["records"] for result in splits.values())
        flagged = sum(result["flagged"] for result in splits.values())
        fields = {"status": JobStatus.SUCCEEDED, "records": records, "flagged": flagged, "error": ""}
        fields["results"] = {"splits": splits}
    except Exception as exc:  # kept on the scan row, and the report says θ_data is n/a
        logger.exception("PII scan of %s failed", version)
        fields = {"status": JobStatus.FAILED, "error": f"{type(exc).__name__}: {exc}", "results": {}}
    fields.update(detector_version=PII_DETECTOR_VERSION, finished_at=timezone.now())
    PIIScan.objects.filter(pk=scan.pk).update(**fields)
    scan.refresh_from_db()
    return scan


def data_leakage(version: ModelVersion) -> tuple[float | None, dict[str, Any] | None, str]:
    """θ_data of a version: the PII rate of its training split; (None, None, reason) when unknown."""
    training = version.dataset_version
    if training is None:
        return None, None, "The training data is not on the hub (an uploaded checkpoint): θ_data is n/a."
    scan = ensure_pii_scan(training)
    if scan.status != JobStatus.SUCCEEDED:
        return None, None, f"The PII scan of {training} failed: {scan.error}"
    counts = scan.results["splits"].get(Split.TRAIN)
    if not counts or not counts["records"]:
        return None, None, f"{training} has no training records: θ_data is n/a."
    return (
        counts["flagged"] / counts["records"],
        {"dataset_version": str(training), "split": "train", **counts},
        "",
    )


# Report lifecycle -------------------------------------------------------------------------------


def start_report(report_id: int) -> EvaluationReport | None:
    """Queued → running; None when it is not queued (a second delivery of the task)."""
    with transaction.atomic():
        report = EvaluationReport.objects.select_for_update().filter(pk=report_id).first()
        if report is None or report.status != JobStatus.QUEUED:
            return None
        report.status, report.started_at = JobStatus.RUNNING, timezone.now()
        report.save(update_fields=["status", "started_at"])
        return report


def note_report_sent(report_id: int) -> None:
    """Record that the report's task reached the broker (a lost message is sent again from then on)."""
    EvaluationReport.objects.filter(pk=report_id, status=JobStatus.QUEUED).update(sent_at=timezone.now())


def unclaimed_reports(*, now, sent_before) -> list[tuple[int, str]]:
    """(id, queue) of queued reports never sent, or last sent before ``sent_before`` and not taken since.

    A report is sent right after the transaction that creates it commits: one unsent for a minute
    met a broker that was down.
    """
    unsent_since = now - timedelta(minutes=1)
    queued = EvaluationReport.objects.filter(status=JobStatus.QUEUED)
    return list(
        queued.filter(Q(sent_at__isnull=True, created_at__lt=unsent_since) | Q(sent_at__lt=sent_before))
        .order_by("pk")
        .values_list("pk", "queue")
    )


def fail_report(report: EvaluationReport, error: str) -> None:
    EvaluationReport.objects.filter(pk=report.pk).update(
        status=JobStatus.FAILED, error=error[:4000], finished_at=timezone.now()
    )


def fail_stale_reports(cutoff) -> int:
    """Fail reports a worker started before ``cutoff`` and never finished (the worker was lost)."""
    return EvaluationReport.objects.filter(status=JobStatus.RUNNING, started_at__lt=cutoff).update(
        status=JobStatus.FAILED,
        error="The worker was lost before the evaluation finished; request it again.",
        finished_at=timezone.now(),
    )


def objective_weights(version: ModelVersion) -> tuple[Weights, str]:
    """The weights α, β, γ that apply to a version, and where they come from."""
    return objective_weights_for(version)


@dataclass(frozen=True)
class Predictions:
    """A model's output on one split: probabilities with columns in ``labels`` order."""

    labels: list[str]
    y_true: list[str]
    probabilities: np.ndarray
    groups: list[str] | None  # the declared group field's values; None without a group field

    @property
    def y_pred(self) -> list[str]:
        return [self.labels[i] for i in self.probabilities.argmax(axis=1)]

    @property
    def true_index(self) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        return np.array([index[label] for label in self.y_true], dtype=np.int64)


def positive_label(labels: Sequence[str]) -> str | None:
    """The label whose rate demographic parity compares: the second of a binary task's sorted labels."""
    return labels[1] if len(labels) == 2 else None


def score(predictions: Predictions, group_field: str) -> dict[str, Any]:
    """Task metrics, fairness δ and calibration ε of one set of predictions."""
    # scikit-learn, fairlearn and the pandas/scipy they pull in weigh ~150 MB: only workers scoring
    # predictions load them, never a web process that merely imports the services.
    from governance.metrics.calibration import calibration_report
    from governance.metrics.fairness import fairness_report

    labels, y_true, y_pred = predictions.labels, predictions.y_true, predictions.y_pred
    per_class = classification.per_class_scores(y_true, y_pred, labels)
    task = {
        "accuracy": classification.accuracy(y_true, y_pred),
        "macro_f1": classification.macro_f1(y_true, y_pred, labels),
        "per_class": [{"label": label, **scores} for label, scores in per_class.items()],
        "confusion_matrix": classification.confusion_matrix(y_true, y_pred, labels).tolist(),
    }
    if predictions.groups is None:
        fairness = {
            "group_field": "",
            "delta": None,
            "reason": "The dataset declares no group field: δ is n/a.",
        }
    else:
        report = fairness_report(
            y_true, y_pred, predictions.groups, labels=labels, positive_label=positive_label(labels)
        )
        fairness = {"group_field": group_field, **report.to_dict()}
    positive = labels.index(positive_label(labels)) if len(labels) == 2 else None
    calibration = calibration_report(
        predictions.probabilities, predictions.true_index, positive_index=positive
    ).to_dict()
    return {"task": task, "fairness": fairness, "calibration": calibration}


def membership_leakage(
    member_losses: np.ndarray | None, nonmember_losses: np.ndarray | None, nonmember_split: str
):
    """θ_model from the per-record losses of training members and held-out non-members."""
    if (
        member_losses is None
        or nonmember_losses is None
        or not len(member_losses)
        or not len(nonmember_losses)
    ):
        return None, None
    attack = loss_threshold_attack(member_losses, nonmember_losses).to_dict()
    return attack["advantage"], {**attack, "nonmember_split": nonmember_split}


def complete_report(
    report: EvaluationReport,
    *,
    predictions: Predictions,
    member_losses: np.ndarray | None,
    nonmember_losses: np.ndarray | None,
    nonmember_split: str,
    comparison: dict[str, Any] | None,
    training_curve: dict[str, Any] | None,
) -> EvaluationReport:
    """Compute every score of the report from the predictions and store it, succeeded."""
    version, dataset_version = report.model_version, report.dataset_version
    scores = score(predictions, dataset_version.group_field)
    theta_data, data_findings, data_reason = data_leakage(version)
    theta_model, attack = membership_leakage(member_losses, nonmember_losses, nonmember_split)
    model_reason = "" if attack else "No training records to compare with held-out ones: θ_model is n/a."
    theta = leakage_risk(theta_data, theta_model)
    weights, weights_source = objective_weights(version)
    delta = scores["fairness"]["delta"]
    epsilon = scores["calibration"]["ece"]
    result = objective(delta, epsilon, theta, weights)
    body = {
        "labels": predictions.labels,
        "examples": len(predictions.y_true),
        "positive_label": positive_label(predictions.labels),
        "model_version": str(version),
        "dataset_version": str(dataset_version),
        "split": report.split,
        **scores,
        "leakage": {
            "theta": theta,
            "theta_data": theta_data,
            "theta_model": theta_model,
            "reason": " ".join(reason for reason in (data_reason, model_reason) if reason),
            "data": data_findings,
            "model": attack,
        },
        "objective": {**result.to_dict(), "weights_source": weights_source},
        "comparison": comparison,
        "training_curve": training_curve,
    }
    report.report = body
    report.examples = len(predictions.y_true)
    report.accuracy = scores["task"]["accuracy"]
    report.macro_f1 = scores["task"]["macro_f1"]
    report.relative_gain = comparison["relative_gain"] if comparison else None
    report.delta, report.epsilon, report.theta, report.objective = delta, epsilon, theta, result.value
    report.status, report.error, report.finished_at = JobStatus.SUCCEEDED, "", timezone.now()
    report.save()
    from governance.services.cards import refresh_card_completeness

    refresh_card_completeness(version)  # a structured result fills part of the card
    return report


def comparison_with_baselines(
    *, accuracy: float, base: dict[str, Any] | None, majority: dict[str, Any]
) -> dict[str, Any]:
    """The gain over the stronger of the base model (when comparable) and the majority-class baseline."""
    use_base = base is not None and base["accuracy"] >= majority["accuracy"]
    baseline_accuracy = base["accuracy"] if use_base else majority["accuracy"]
    headroom = 1.0 - baseline_accuracy
    relative = None if headroom <= 0 else min(max((accuracy - baseline_accuracy) / headroom, 0.0), 1.0)
    return {
        "baseline": "base_model" if use_base else "majority_class",
        "baseline_accuracy": baseline_accuracy,
        "base_model": base,
        "majority_class": majority,
        "gain": accuracy - baseline_accuracy,
        "relative_gain": relative,
    }
