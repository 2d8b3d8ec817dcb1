"""Governance records: evaluation reports, the PII scan of a dataset version, and model cards."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from hub.models import Dataset, DatasetVersion, ModelVersion, Organization, RegisteredModel


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
    relative_gain = models.FloatField(
        null=True,
        blank=True,
        help_text="clip((s − s_base) / (1 − s_base), 0, 1) against the stronger baseline.",
    )
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the task was last handed to the broker; empty while it could not be (broker down).
    sent_at = models.DateTimeField(null=True, blank=True)
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


# Policies ---------------------------------------------------------------------------------------


class AccessMode(models.TextChoices):
    OPEN = "open", "Open: anyone who can see it may use it"
    ON_REQUEST = "on_request", "On request: organizations ask, the owner's admins decide"
    LISTED = "listed", "Listed: only the named organizations"


class Policy(models.Model):
    """An organization's usage policy; its terms live in immutable versions."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="policies")
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__slug", "slug"]
        verbose_name_plural = "policies"
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="unique_policy_slug")]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"

    def get_absolute_url(self) -> str:
        return reverse("governance:policy", kwargs={"org": self.organization.slug, "slug": self.slug})

    @property
    def latest_version(self) -> PolicyVersion | None:
        return self.versions.order_by("-number").first()


class ImmutableError(Exception):
    """A write to a record that may only be created, never changed."""


class PolicyVersion(models.Model):
    """The terms of a policy at one point in time. Never changed: a change is a new version."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    license = models.CharField(
        max_length=100, help_text="SPDX id (or LicenseRef-…) the artifacts are offered under."
    )
    allowed_uses = models.JSONField(
        default=list, blank=True, help_text="Use tags explicitly allowed; empty = any."
    )
    prohibited_uses = models.JSONField(default=list, blank=True, help_text="Use tags that are refused.")
    commercial_use = models.BooleanField(default=True)
    attribution_required = models.BooleanField(default=True)
    share_alike = models.BooleanField(default=False)
    access_mode = models.CharField(max_length=16, choices=AccessMode.choices, default=AccessMode.OPEN)
    listed_organizations = models.ManyToManyField(Organization, blank=True, related_name="+")
    conditions = models.TextField(blank=True, help_text="What a requesting organization accepts.")
    request_cooldown_days = models.PositiveIntegerField(
        default=30, help_text="After a refusal, days before the same organization may ask again."
    )
    requires_review = models.BooleanField(default=True, help_text="Publication needs a reviewer's approval.")
    conflicts_go_to_review = models.BooleanField(
        default=False, help_text="A licence conflict sends publication to review instead of refusing it."
    )
    max_delta = models.FloatField(null=True, blank=True, help_text="Highest fairness gap δ to publish.")
    max_epsilon = models.FloatField(
        null=True, blank=True, help_text="Highest calibration error ε to publish."
    )
    max_theta = models.FloatField(null=True, blank=True, help_text="Highest leakage risk θ to publish.")
    max_objective = models.FloatField(null=True, blank=True, help_text="Highest objective F to publish.")
    alpha = models.FloatField(default=1 / 3, help_text="Weight of δ in F.")
    beta = models.FloatField(default=1 / 3, help_text="Weight of ε in F.")
    gamma = models.FloatField(default=1 / 3, help_text="Weight of θ in F.")
    change_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [models.UniqueConstraint(fields=["policy", "number"], name="unique_policy_version")]

    def __str__(self) -> str:
        return f"{self.policy}@v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None and PolicyVersion.objects.filter(pk=self.pk).exists():
            raise ImmutableError(f"{self} is immutable: create a new version instead")
        super().save(*args, **kwargs)


class PolicyAttachment(models.Model):
    """Which policy governs a dataset or a model (its latest version applies)."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="attachments")
    dataset = models.OneToOneField(
        Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="policy_attachment"
    )
    model = models.OneToOneField(
        RegisteredModel, null=True, blank=True, on_delete=models.CASCADE, related_name="policy_attachment"
    )
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attached_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(dataset__isnull=False, model__isnull=True)
                | models.Q(dataset__isnull=True, model__isnull=False),
                name="attachment_has_one_artifact",
            )
        ]

    def __str__(self) -> str:
        return f"{self.policy} on {self.dataset or self.model}"


# Access between organizations -------------------------------------------------------------------


class AccessRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="access_requests")
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    intended_use = models.JSONField(default=list, help_text="Use tags the organization declares.")
    purpose = models.TextField(help_text="What the organization will do with it.")
    accepted_conditions = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.organization.slug} → {self.dataset or self.model} ({self.status})"

    @property
    def artifact(self) -> Dataset | RegisteredModel:
        return self.dataset or self.model


class AccessGrant(models.Model):
    """An organization may use another organization's dataset or model (and see it, if private)."""

    class Source(models.TextChoices):
        REQUEST = "request", "Approved request"
        LISTED = "listed", "Listed by the policy"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="access_grants")
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.CASCADE, related_name="grants"
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.REQUEST)
    request = models.OneToOneField(
        AccessRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="grant"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_at = models.DateTimeField(auto_now_add=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoke_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-granted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "dataset"],
                condition=models.Q(revoked_at__isnull=True, dataset__isnull=False),
                name="one_active_dataset_grant",
            ),
            models.UniqueConstraint(
                fields=["organization", "model"],
                condition=models.Q(revoked_at__isnull=True, model__isnull=False),
                name="one_active_model_grant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug} may use {self.dataset or self.model}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


# Decisions ----------------------------------------------------------------------------------------


class PolicyCheck(models.Model):
    """One decision of the policy engine, with every reason: the record behind N_pass of the scores."""

    class Context(models.TextChoices):
        RUN = "run", "Fine-tuning run"
        PUBLICATION = "publication", "Publication"
        ACCESS = "access", "Access request"

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        REVIEW = "review", "Allowed after review"
        REFUSED = "refused", "Refused"

    context = models.CharField(max_length=16, choices=Context.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="policy_checks"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="policy_checks"
    )
    reasons = models.JSONField(default=list, blank=True, help_text="[{code, message, artifact}]")
    inputs = models.JSONField(default=dict, blank=True, help_text="Policy versions, intended use, licences.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The N_pass factor counts each organization's checks in a window.
        indexes = [models.Index(fields=["organization", "created_at", "outcome"], name="policy_check_window")]

    def __str__(self) -> str:
        return f"{self.get_context_display()} check: {self.outcome}"

    @property
    def passed(self) -> bool:
        return self.outcome != self.Outcome.REFUSED


class PublicationRequest(models.Model):
    """A request to publish a model version: its checks, and the review when one is needed."""

    class Status(models.TextChoices):
        REFUSED = "refused", "Refused by the checks"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected by a reviewer"
        WITHDRAWN = "withdrawn", "Withdrawn"

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="publication_requests"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    intended_use = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    policy_check = models.ForeignKey(PolicyCheck, on_delete=models.PROTECT, related_name="+")
    checks = models.JSONField(default=list, help_text="[{name, passed, detail}] of the publish-check.")
    report = models.ForeignKey(
        EvaluationReport, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    card_completeness = models.FloatField(null=True, blank=True)
    review_required = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    review_deadline = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Publication of {self.model_version} ({self.status})"


# Audit log ----------------------------------------------------------------------------------------


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ImmutableError("the audit log is append-only")

    def delete(self):
        raise ImmutableError("the audit log is append-only")


class AuditEvent(models.Model):
    """Who changed what, in which organization, from what to what, when and from where. Append-only:
    the ORM refuses updates and deletes, and database triggers refuse them too."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+",
    )  # fmt: skip
    actor_name = models.CharField(max_length=150, blank=True)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    organization_slug = models.CharField(max_length=100, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True, help_text="e.g. dataset.create, version.publish")
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    target = models.CharField(max_length=300, blank=True, help_text="What it was, in words.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    channel = models.CharField(max_length=16, blank=True, help_text="web, api, admin, worker or command")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["organization_slug", "-at"], name="audit_by_organization")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '—'} {self.action} {self.target}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableError("the audit log is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("the audit log is append-only")


# Scores -------------------------------------------------------------------------------------------


class ScoreSnapshot(models.Model):
    """One day's value of a score (E, C for the hub or an organization; F for a model version), with
    every factor and the counts behind it, so the trend can be drawn and anyone can recompute it."""

    class Scope(models.TextChoices):
        HUB = "hub", "Hub"
        ORGANIZATION = "organization", "Organization"
        MODEL_VERSION = "model_version", "Model version"

    date = models.DateField(db_index=True)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="score_snapshots"
    )
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.CASCADE, related_name="score_snapshots"
    )
    score = models.CharField(max_length=1, help_text="E, C or F")
    value = models.FloatField(
        null=True, blank=True, help_text="The product as the source defines it; empty = n/a."
    )
    geometric_mean = models.FloatField(null=True, blank=True, help_text="The headline index; empty = n/a.")
    factors = models.JSONField(default=dict, help_text="Every factor with its inputs.")
    window_days = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "scope", "score"]
        constraints = [
            models.UniqueConstraint(
                fields=["date", "score"], condition=models.Q(scope="hub"), name="one_hub_snapshot_per_day"
            ),
            models.UniqueConstraint(
                fields=["date", "score", "organization"],
                condition=models.Q(scope="organization"),
                name="one_organization_snapshot_per_day",
            ),
            models.UniqueConstraint(
                fields=["date", "score", "model_version"],
                condition=models.Q(scope="model_version"),
                name="one_version_snapshot_per_day",
            ),
        ]
        indexes = [models.Index(fields=["organization", "score", "date"], name="snapshot_trend")]

    def __str__(self) -> str:
        subject = self.organization or self.model_version or "hub"
        return f"{self.score} of {subject} on {self.date}"
