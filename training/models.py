"""Fine-tuning runs and the metrics they stream while they train."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.urls import reverse

from governance.models import PolicyCheck
from hub.models import DatasetVersion, ModelVersion, Organization, RegisteredModel


class ComputePool(models.Model):
    """Workers an organization runs under a Celery queue of their own, which it may share."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="compute_pools")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    queue = models.CharField(max_length=120, unique=True, help_text="Celery queue: pool-<org>-<slug>.")
    shared_with_all = models.BooleanField(default=False, help_text="Every organization may run on it.")
    shared_with = models.ManyToManyField(Organization, blank=True, related_name="shared_compute_pools")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__slug", "slug"]
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="unique_pool_slug")]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"

    def get_absolute_url(self) -> str:
        return reverse("training:pool-list", kwargs={"org": self.organization.slug}) + f"#pool-{self.slug}"

    @staticmethod
    def queue_for(organization_slug: str, slug: str) -> str:
        return f"pool-{organization_slug}-{slug}"


class FineTuneRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.REJECTED)
    # The only status changes services make; anything else is a bug, not a race to tolerate.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.CANCELLED, Status.REJECTED}),
        # running → queued: the recovery of a run whose worker was lost.
        Status.RUNNING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.QUEUED}),
        Status.SUCCEEDED: frozenset(),
        Status.FAILED: frozenset(),
        Status.CANCELLED: frozenset(),
        Status.REJECTED: frozenset(),
    }

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="runs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    base_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="runs_as_base")
    dataset_version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="runs")
    output_model = models.ForeignKey(
        RegisteredModel,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
        help_text="The model whose next version the run produces (none for a run the policy check rejected).",
    )
    hyperparameters = models.JSONField(default=dict)
    intended_use = models.JSONField(default=list, blank=True, help_text="Use tags the run declares.")
    license = models.CharField(
        max_length=100, blank=True, help_text="Licence proposed for the new model (default: the base's)."
    )
    policy_check = models.ForeignKey(
        PolicyCheck, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queue = models.CharField(max_length=120, default="cpu")
    pool = models.ForeignKey(
        ComputePool, null=True, blank=True, on_delete=models.PROTECT, related_name="runs",
        help_text="Compute pool whose workers train the run; its queue is the run's queue.",
    )  # fmt: skip
    priority = models.PositiveSmallIntegerField(
        default=5,
        validators=[MaxValueValidator(9)],
        help_text="0 (lowest) to 9 (highest), passed to the broker.",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    progress = models.FloatField(default=0.0, help_text="Share of optimizer steps done, 0 to 1.")
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True, help_text="Final validation metrics.")
    device = models.CharField(max_length=200, blank=True)
    precision = models.CharField(max_length=16, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    events = models.JSONField(
        default=list, blank=True, help_text="Notable events, e.g. a re-queue after a lost worker."
    )
    accelerator_seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    output_version = models.OneToOneField(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="produced_by_run"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            # The run lists filter by status, newest first: for all runs (a superuser) and per organization.
            # The id completes the order and lets a page's keys be read from the index alone, deep pages too.
            models.Index(fields=["status", "-created_at", "-id"], name="run_status_newest"),
            models.Index(
                fields=["organization", "status", "-created_at", "-id"], name="run_org_status_newest"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("training:run", kwargs={"pk": self.pk})

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS[self.status]

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def wall_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class RunMetric(models.Model):
    """One measured value at one step: a narrow table that charts read as series."""

    run = models.ForeignKey(FineTuneRun, on_delete=models.CASCADE, related_name="metric_points")
    step = models.PositiveIntegerField()
    name = models.CharField(max_length=64)
    value = models.FloatField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "name", "step"]
        indexes = [models.Index(fields=["run", "name", "step"])]

    def __str__(self) -> str:
        return f"{self.run_id} {self.name}@{self.step}={self.value:g}"
