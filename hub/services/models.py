"""Registering models and storing their versions' files."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.text import slugify

from hub import audit
from hub.archives import extract_archive
from hub.checkpoint_files import CheckpointInfo, checkpoint_root, inspect_checkpoint, stage_uploaded_files
from hub.models import (
    DatasetVersion,
    ModelAlias,
    ModelFile,
    ModelVersion,
    Organization,
    RegisteredModel,
    Visibility,
)
from hub.permissions import can_administer, can_write
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
    with transaction.atomic():
        model = RegisteredModel.objects.create(
            organization=organization,
            slug=slug,
            name=name or slug,
            description=description,
            visibility=visibility,
            license=license,
            created_by=user,
        )
        _record_model_created(user, model)
    return model


def _record_model_created(user: User, model: RegisteredModel) -> None:
    audit.record(
        "model.create",
        actor=user,
        organization=model.organization,
        target=model,
        after={"name": model.name, "license": model.license, "visibility": model.visibility},
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
    contents: Mapping[str, blobs.Content] | None = None,
) -> ModelVersion:
    """Validate a Hugging Face model directory and store it as the model's next version.

    File contents go to storage first (``contents`` when the caller stored them already); Blob rows
    are created with the version, in one transaction, so a failure leaves no row behind.
    """
    info = info or inspect_checkpoint(directory)
    if contents is None:
        contents = {name: blobs.put_path(directory / name) for name in info.files}
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
            ModelFile(version=version, path=name, blob=blobs.record(contents[name])) for name in info.files
        )
        audit.record(
            "model_version.create",
            actor=user,
            organization=model.organization,
            target=version,
            after={
                "number": number,
                "origin": origin,
                "architecture": info.architecture,
                "base_version": base_version,
                "dataset_version": dataset_version,
                "files": len(info.files),
            },
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
            user=user,
            organization=organization,
            slug=slug,
            name=name,
            license=license,
            description=description,
            visibility=visibility,
        )
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


@dataclass(frozen=True)
class CheckpointUpload:
    """The files of a model directory as (relative path, file) pairs, or one archive of it."""

    files: Sequence[tuple[str, File]] = ()
    archive: File | None = None


def checkpoint_upload(cleaned: Mapping[str, Any]) -> CheckpointUpload:
    """A CheckpointUpload from a form's or serializer's cleaned ``files``, ``paths`` and ``archive``.

    Each file's relative path is the matching entry of ``paths`` when given, else the name the
    client sent (kept whole by the API's parser, cut to its last part by Django elsewhere).
    """
    files = list(cleaned.get("files") or [])
    paths = list(cleaned.get("paths") or [])
    if paths and len(paths) != len(files):
        raise ValidationError({"paths": f"{len(paths)} paths for {len(files)} files: give one path per file"})
    names = paths or [getattr(file, "relative_path", file.name) for file in files]
    return CheckpointUpload(files=list(zip(names, files, strict=True)), archive=cleaned.get("archive"))


def _archive_path(archive: File, staging: Path) -> Path:
    if hasattr(archive, "temporary_file_path"):
        return Path(archive.temporary_file_path())
    path = staging / "archive"
    with open(path, "xb") as out:
        for chunk in archive.chunks():
            out.write(chunk)
    return path


@contextmanager
def _staged_checkpoint(upload: CheckpointUpload) -> Iterator[tuple[Path, CheckpointInfo, dict[str, str]]]:
    """Unpack the upload in a scratch folder and validate it fully; yield (directory, info, digests).

    Everything that can refuse the upload happens here, before any blob is stored.
    """
    if bool(upload.files) == bool(upload.archive):
        raise ValidationError({"files": "send either the files of the model directory or one archive"})
    field = "archive" if upload.archive else "files"
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=blobs.incoming_dir()))
    try:
        root = staging / "checkpoint"
        root.mkdir()
        if upload.archive:
            digests = extract_archive(_archive_path(upload.archive, staging), root)
        else:
            digests = stage_uploaded_files(upload.files, root)
        directory, digests = checkpoint_root(root, digests)
        try:
            info = inspect_checkpoint(directory)
        except ValidationError as error:
            raise ValidationError({field: error.message_dict.get("files", error.messages)}) from None
        yield directory, info, digests
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _put_contents(
    directory: Path, info: CheckpointInfo, digests: Mapping[str, str]
) -> dict[str, blobs.Content]:
    return {name: blobs.adopt_path(directory / name, digests.get(name)) for name in info.files}


def create_model_from_upload(
    *,
    user: User,
    organization: Organization,
    slug: str,
    name: str,
    license: str,
    upload: CheckpointUpload,
    description: str = "",
    visibility: str = Visibility.PRIVATE,
    task: str = "text-classification",
) -> ModelVersion:
    """Create a model with version 1 from uploaded files. Nothing is stored unless every check passes."""
    if not can_write(user, organization):
        raise PermissionDenied(f"You may not create models in {organization.slug}.")
    license = validate_artifact_fields(slug=slug, name=name, license=license, visibility=visibility)
    taken = ValidationError({"slug": f"{organization.slug}/{slug} already exists; upload a new version"})
    if RegisteredModel.objects.filter(organization=organization, slug=slug).exists():
        raise taken
    with _staged_checkpoint(upload) as (directory, info, digests):
        contents = _put_contents(directory, info, digests)
        try:
            with transaction.atomic():
                model = RegisteredModel.objects.create(
                    organization=organization,
                    slug=slug,
                    name=name,
                    description=description,
                    visibility=visibility,
                    license=license,
                    task=task or "text-classification",
                    created_by=user,
                )
                _record_model_created(user, model)
                return store_model_version(
                    model=model,
                    directory=directory,
                    origin=ModelVersion.Origin.UPLOAD,
                    user=user,
                    info=info,
                    contents=contents,
                )
        except IntegrityError:
            raise taken from None


def add_uploaded_version(*, user: User, model: RegisteredModel, upload: CheckpointUpload) -> ModelVersion:
    """Store uploaded files as the model's next version (origin ``upload``)."""
    if not can_write(user, model.organization):
        raise PermissionDenied(f"You may not add versions to {model.full_name}.")
    with _staged_checkpoint(upload) as (directory, info, digests):
        contents = _put_contents(directory, info, digests)
        return store_model_version(
            model=model,
            directory=directory,
            origin=ModelVersion.Origin.UPLOAD,
            user=user,
            info=info,
            contents=contents,
        )


def move_alias(*, user: User, model: RegisteredModel, name: str, version: ModelVersion) -> ModelAlias:
    """Point ``model:name`` (e.g. production) at a published version; organization admins only."""
    if not can_administer(user, model.organization):
        raise PermissionDenied(f"Only admins of {model.organization.slug} move aliases.")
    errors = {}
    if name != slugify(name) or not name:
        errors["name"] = "use lower-case letters, digits and hyphens, e.g. production"
    if version.model_id != model.pk:
        errors["version"] = f"{version} is not a version of {model.full_name}"
    elif version.status != ModelVersion.Status.PUBLISHED:
        errors["version"] = (
            f"{version} is {version.get_status_display().lower()}; aliases point at published versions"
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        alias = ModelAlias.objects.select_for_update().filter(model=model, name=name).first()
        before = {"version": alias.version.number} if alias else None
        if alias is None:
            alias = ModelAlias(model=model, name=name)
        alias.version, alias.updated_by = version, user
        alias.save()
        audit.record(
            "alias.move",
            actor=user,
            organization=model.organization,
            target=alias,
            before=before,
            after={"version": version.number, "name": name},
        )
    return alias
