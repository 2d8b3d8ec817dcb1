"""Registering models and storing their versions' files."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max

from hub.checkpoint_files import CheckpointInfo, inspect_checkpoint
from hub.models import DatasetVersion, ModelFile, ModelVersion, Organization, RegisteredModel, Visibility
from hub.permissions import can_write
from hub.services import blobs
from hub.services.datasets import validate_artifact_fields


def get_or_create_model(
    *,
    user: User,
    organization: Organization,
    slug: str,
    name: str = "",
    license: str,
    description: str = "",
    visibility: str = Visibility.PRIVATE,
) -> RegisteredModel:
    if not can_write(user, organization):
        raise PermissionDenied(f"You may not create models in {organization.slug}.")
    existing = RegisteredModel.objects.filter(organization=organization, slug=slug).first()
    if existing is not None:
        return existing
    license = validate_artifact_fields(slug=slug, name=name or slug, license=license, visibility=visibility)
    return RegisteredModel.objects.create(
        organization=organization,
        slug=slug,
        name=name or slug,
        description=description,
        visibility=visibility,
        license=license,
        created_by=user,
    )


def store_model_version(
    *,
    model: RegisteredModel,
    directory: Path,
    origin: str,
    user: User | None,
    base_version: ModelVersion | None = None,
    dataset_version: DatasetVersion | None = None,
    metrics: dict | None = None,
    library_versions: dict | None = None,
    info: CheckpointInfo | None = None,
) -> ModelVersion:
    """Validate a Hugging Face model directory and store it as the model's next version."""
    info = info or inspect_checkpoint(directory)
    stored = {name: blobs.store_path(directory / name) for name in info.files}
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)  # serialize version numbering
        number = (model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = ModelVersion.objects.create(
            model=model,
            number=number,
            origin=origin,
            base_version=base_version,
            dataset_version=dataset_version,
            architecture=info.architecture,
            labels=info.labels,
            num_parameters=info.weights.parameters,
            tensor_summary=info.weights.by_dtype,
            metrics=metrics or {},
            library_versions=library_versions or {},
            created_by=user,
        )
        ModelFile.objects.bulk_create(
            ModelFile(version=version, path=name, blob=blob) for name, blob in stored.items()
        )
    return version


def import_checkpoint(
    *,
    user: User,
    organization: Organization,
    slug: str,
    directory: Path,
    license: str,
    name: str = "",
    description: str = "",
    visibility: str = Visibility.PRIVATE,
) -> ModelVersion:
    """Register a pretrained checkpoint from a directory on the server (origin ``upload``)."""
    info = inspect_checkpoint(directory)  # refuse before anything is created
    with transaction.atomic():
        model = get_or_create_model(
            user=user, organization=organization, slug=slug, name=name, license=license,
            description=description, visibility=visibility,
        )  # fmt: skip
        return store_model_version(
            model=model, directory=directory, origin=ModelVersion.Origin.UPLOAD, user=user, info=info
        )


def materialize_version(version: ModelVersion, destination: Path) -> Path:
    """Write the version's files under ``destination`` (verified against their hashes)."""
    files = list(version.files.select_related("blob"))
    if not files:
        raise ValidationError({"base_version": f"{version} has no files"})
    for model_file in files:
        target = destination / model_file.path
        if not target.exists():
            blobs.copy_to_path(model_file.blob, target)
    return destination
