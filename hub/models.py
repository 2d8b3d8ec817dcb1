"""The registry: organizations and their people, access tokens, blobs, datasets, models and versions."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal to the hub"
    PRIVATE = "private", "Private to the organization"


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


# The hub-wide Django group whose members review publications and access requests in the admin.
REVIEWERS_GROUP = "reviewers"

# Roles that may create and change an organization's artifacts and runs.
WRITER_ROLES = (Role.OWNER, Role.ADMIN, Role.MEMBER)


class Organization(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="organizations"
    )

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return reverse("hub:organization", kwargs={"org": self.slug})


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class AccessToken(models.Model):
    """A personal access token. Only a SHA-256 digest is stored; the prefix identifies it in lists."""

    class Scope(models.TextChoices):
        READ = "read", "Read"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text="When set, the token acts only on this organization's artifacts.",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class Blob(models.Model):
    """A content-addressed file in the blob storage. Identical content is stored once."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField(validators=[MinValueValidator(0)])
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"sha256:{self.sha256[:12]} ({self.size} bytes)"

    @property
    def storage_key(self) -> str:
        return f"sha256/{self.sha256[:2]}/{self.sha256[2:4]}/{self.sha256}"


class OwnedArtifact(models.Model):
    """What datasets and models share: an owner, a slug unique in it, a visibility and a licence."""

    # Subclasses declare ``organization`` with their own related name.
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE)
    license = models.CharField(max_length=100, help_text="SPDX identifier or LicenseRef-…")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["organization__slug", "slug"]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.organization.slug}/{self.slug}"


class Dataset(OwnedArtifact):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="datasets")
    datasheet = models.JSONField(
        default=dict, blank=True, help_text="Datasheets for Datasets sections: section key → text."
    )
    # Kept current by the services that change the datasheet or add a version; the scores average it.
    card_completeness = models.FloatField(null=True, blank=True, editable=False)

    class Meta(OwnedArtifact.Meta):
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="unique_dataset_slug")]

    def get_absolute_url(self) -> str:
        return reverse("hub:dataset", kwargs={"org": self.organization.slug, "slug": self.slug})


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    VALIDATION = "validation", "Validation"
    TEST = "test", "Test"
    SOURCE = "source", "Uploaded source"


class StatisticsStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DatasetVersion(models.Model):
    """An immutable version of a dataset: its split files, declared schema and statistics."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text_field = models.CharField(max_length=100)
    label_field = models.CharField(max_length=100)
    group_field = models.CharField(max_length=100, blank=True)
    labels = models.JSONField(default=list, help_text="Label names, sorted.")
    split_seed = models.IntegerField(null=True, blank=True)
    split_proportions = models.JSONField(default=dict, blank=True)
    row_counts = models.JSONField(default=dict, help_text="Rows per split.")
    label_distribution = models.JSONField(default=dict, help_text="Per split: label → rows.")
    statistics_status = models.CharField(max_length=16, choices=StatisticsStatus.choices,
                                         default=StatisticsStatus.PENDING)  # fmt: skip
    statistics = models.JSONField(
        default=dict,
        blank=True,
        help_text="Computed in the background: per split, text-length histogram and more.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [models.UniqueConstraint(fields=["dataset", "number"], name="unique_dataset_version")]

    def __str__(self) -> str:
        return f"{self.dataset.full_name}@v{self.number}"

    @property
    def total_rows(self) -> int:
        return sum(count for split, count in self.row_counts.items() if split != Split.SOURCE)


class FileFormat(models.TextChoices):
    CSV = "csv", "CSV"
    TSV = "tsv", "TSV"
    JSONL = "jsonl", "JSON Lines"
    PARQUET = "parquet", "Parquet"


class DatasetFile(models.Model):
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="files")
    split = models.CharField(max_length=16, choices=Split.choices)
    path = models.CharField(max_length=255)
    format = models.CharField(max_length=16, choices=FileFormat.choices, default=FileFormat.CSV)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    rows = models.PositiveIntegerField()

    class Meta:
        ordering = ["version", "split"]
        constraints = [models.UniqueConstraint(fields=["version", "split"], name="unique_dataset_split")]

    def __str__(self) -> str:
        return f"{self.version}:{self.split}"


class RegisteredModel(OwnedArtifact):
    """A model repository: its versions are uploaded checkpoints, fine-tunes or fusions."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="models")
    task = models.CharField(max_length=64, default="text-classification")

    class Meta(OwnedArtifact.Meta):
        constraints = [models.UniqueConstraint(fields=["organization", "slug"], name="unique_model_slug")]

    def get_absolute_url(self) -> str:
        return reverse("hub:model", kwargs={"org": self.organization.slug, "slug": self.slug})


class ModelVersion(models.Model):
    class Origin(models.TextChoices):
        UPLOAD = "upload", "Uploaded checkpoint"
        RUN = "run", "Fine-tuning run"
        FUSION = "fusion", "Fusion"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "in_review", "In review"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        DEPRECATED = "deprecated", "Deprecated"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    origin = models.CharField(max_length=16, choices=Origin.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    base_version = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived_versions"
    )
    dataset_version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="trained_versions"
    )
    architecture = models.CharField(max_length=100, blank=True)
    labels = models.JSONField(default=list, blank=True, help_text="Classifier labels in output order.")
    num_parameters = models.BigIntegerField(null=True, blank=True)
    tensor_summary = models.JSONField(default=dict, blank=True, help_text="dtype → tensors and parameters.")
    metrics = models.JSONField(default=dict, blank=True, help_text="Evaluation metrics by split.")
    library_versions = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deprecated_at = models.DateTimeField(null=True, blank=True)
    deprecation_reason = models.TextField(blank=True)
    # The model card's completeness, kept current by governance as the card and reports change.
    card_completeness = models.FloatField(null=True, blank=True, editable=False)
    card_touched_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Once published, a version only moves to deprecated (with its date and reason); nothing else changes.
    FROZEN_STATUSES = (Status.PUBLISHED, Status.DEPRECATED)
    CHANGEABLE_WHEN_FROZEN = (
        "status",
        "deprecated_at",
        "deprecation_reason",
        "card_completeness",
        "card_touched_at",
    )

    class Meta:
        ordering = ["model", "-number"]
        constraints = [models.UniqueConstraint(fields=["model", "number"], name="unique_model_version")]

    def __str__(self) -> str:
        return f"{self.model.full_name}@v{self.number}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            stored = ModelVersion.objects.filter(pk=self.pk).first()
            if stored is not None and stored.is_frozen:
                self._refuse_changes_to_frozen(stored)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse(
            "hub:model-version",
            kwargs={"org": self.model.organization.slug, "slug": self.model.slug, "number": self.number},
        )

    def delete(self, *args, **kwargs):
        if ModelVersion.objects.filter(pk=self.pk, status__in=self.FROZEN_STATUSES).exists():
            raise ValidationError(f"{self} is {self.status}: published versions are never deleted")
        return super().delete(*args, **kwargs)

    @property
    def is_frozen(self) -> bool:
        return self.status in self.FROZEN_STATUSES

    def _refuse_changes_to_frozen(self, stored: ModelVersion) -> None:
        changed = [
            field.name
            for field in self._meta.concrete_fields
            if field.name not in self.CHANGEABLE_WHEN_FROZEN
            and getattr(self, field.attname) != getattr(stored, field.attname)
        ]
        if stored.status == self.Status.DEPRECATED and self.status != stored.status:
            changed.append("status")
        if self.status not in self.FROZEN_STATUSES:
            changed.append("status")
        if changed:
            raise ValidationError(
                {name: f"{stored} is {stored.status}: its {name} cannot change" for name in changed}
            )


class ModelFile(models.Model):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=255)
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["version", "path"]
        constraints = [models.UniqueConstraint(fields=["version", "path"], name="unique_model_file")]

    def __str__(self) -> str:
        return f"{self.version}:{self.path}"

    def save(self, *args, **kwargs):
        self._refuse_if_frozen()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_frozen()
        return super().delete(*args, **kwargs)

    def _refuse_if_frozen(self) -> None:
        if ModelVersion.objects.filter(pk=self.version_id, status__in=ModelVersion.FROZEN_STATUSES).exists():
            raise ValidationError({"files": f"{self.version} is published: its files cannot change"})


class ModelAlias(models.Model):
    """A name such as ``production`` pointing at one published version; moved by organization admins."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    name = models.SlugField(max_length=50)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="aliases")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model", "name"]
        verbose_name_plural = "model aliases"
        constraints = [models.UniqueConstraint(fields=["model", "name"], name="unique_model_alias")]

    def __str__(self) -> str:
        return f"{self.model.full_name}:{self.name} → v{self.version.number}"


class Download(models.Model):
    """A file fetched from the hub: the use of shared data and models that the scores count."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, on_delete=models.CASCADE, related_name="downloads"
    )
    model = models.ForeignKey(
        RegisteredModel, null=True, blank=True, on_delete=models.CASCADE, related_name="downloads"
    )
    path = models.CharField(max_length=255)
    # True when the user is not a member of the owning organization (as the token restricts it).
    cross_organization = models.BooleanField(default=False)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["cross_organization", "at"], name="download_cross_at")]

    def __str__(self) -> str:
        return f"{self.user} ← {self.dataset or self.model}:{self.path}"
