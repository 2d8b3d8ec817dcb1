"""Governance records: evaluation reports, the PII scan of a dataset version, and model cards."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from hub.models import DatasetVersion, ModelVersion


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class EvaluationReport(models.Model):
    """A model version scored on one split of a dataset version.

    The headline numbers are columns (for lists, rankings and the scores); everything a reviewer
    reads (per class, per group, reliability bins, PII findings, the comparison with the base, the
    run's loss curve) is in ``report``. A null score is n/a, never 0.
    """

    class Trigger(models.TextChoices):
        RUN = "run", "After a fine-tuning run"
        REQUEST = "request", "On request"
        BASELINE = "baseline", "Base model of another report"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="evaluations")
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="evaluations")
    split = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.REQUEST)
    baseline_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="baselines"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.CharField(max_length=100, blank=True)
    examples = models.PositiveIntegerField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    macro_f1 = models.FloatField(null=True, blank=True)
    delta = models.FloatField(null=True, blank=True, help_text="Fairness gap δ; empty = n/a.")
    epsilon = models.FloatField(null=True, blank=True, help_text="Calibration error ε; empty = n/a.")
    theta = models.FloatField(null=True, blank=True, help_text="Leakage risk θ; empty = n/a.")
    objective = models.FloatField(null=True, blank=True, help_text="F = αδ + βε + γθ; empty = n/a.")
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["dataset_version", "split", "status"], name="evaluation_by_split"),
            models.Index(fields=["model_version", "status"], name="evaluation_by_version"),
        ]

    def __str__(self) -> str:
        return f"{self.model_version} on {self.dataset_version}:{self.split}"

    def get_absolute_url(self) -> str:
        return reverse("governance:report", kwargs={"pk": self.pk})

    @property
    def governance_score(self) -> float | None:
        return None if self.objective is None else 1.0 - self.objective

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)


class PIIScan(models.Model):
    """Validated PII hits in a dataset version's records, computed once and cached.

    ``results`` holds, per split, the records scanned, the records with at least one hit, the
    count per PII type and a few redacted examples. θ_data is the train split's share.
    """

    dataset_version = models.OneToOneField(DatasetVersion, on_delete=models.CASCADE, related_name="pii_scan")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    detector_version = models.PositiveIntegerField(default=1)
    records = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"PII scan of {self.dataset_version}"

    def rate(self, split: str) -> float | None:
        """Share of the split's records with a validated hit; None when the split has no records."""
        counts = self.results.get("splits", {}).get(split)
        if not counts or not counts.get("records"):
            return None
        return counts["flagged"] / counts["records"]


class ModelCard(models.Model):
    """The prose of a version's model card, written by its owners; the rest is generated from records."""

    model_version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="card")
    sections = models.JSONField(default=dict, blank=True, help_text="Section key → Markdown text.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Card of {self.model_version}"
