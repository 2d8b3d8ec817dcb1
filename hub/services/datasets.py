"""Registering datasets and their immutable versions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from hub import tabular
from hub.licenses import normalize_license
from hub.models import Dataset, DatasetFile, DatasetVersion, Organization, Split, Visibility
from hub.paths import validate_file_name
from hub.permissions import can_write
from hub.services import blobs


@dataclass(frozen=True)
class SplitSpec:
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 42

    def validate(self) -> None:
        errors = {}
        for field in ("validation_fraction", "test_fraction"):
            value = getattr(self, field)
            if not 0 <= value <= 0.5:
                errors[field] = f"must be between 0 and 0.5, not {value:g}"
        if not errors and self.validation_fraction == 0:
            errors["validation_fraction"] = (
                "must be above 0: fine-tuning measures accuracy on the validation split"
            )
        if errors:
            raise ValidationError(errors)


@dataclass(frozen=True)
class Upload:
    name: str
    file: BinaryIO
    size: int


VERSION_FIELDS = ("text_field", "label_field", "group_field")
ARTIFACT_FIELDS = ("organization", "slug", "name", "description", "visibility", "license")


def version_arguments(cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of add_dataset_version from a form's or serializer's cleaned data.

    The dataset form and the API serializers name their fields alike, so both call this.
    """
    file = cleaned["file"]
    return {
        "upload": Upload(name=file.name, file=file, size=file.size),
        "split": SplitSpec(cleaned["validation_fraction"], cleaned["test_fraction"], cleaned["seed"]),
        **{field: cleaned.get(field) or "" for field in VERSION_FIELDS},
    }


def dataset_arguments(cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of create_dataset from cleaned data (see version_arguments)."""
    return {**version_arguments(cleaned), **{field: cleaned[field] for field in ARTIFACT_FIELDS}}


def _read_upload(upload: Upload) -> bytes:
    limit = settings.AGORA_MAX_DATASET_BYTES
    if upload.size > limit:
        raise ValidationError({"file": f"the file is {upload.size} bytes; the limit is {limit} bytes"})
    upload.file.seek(0)
    return upload.file.read()


def validate_artifact_fields(*, slug: str, name: str, license: str, visibility: str) -> str:
    errors = {}
    if not slug:
        errors["slug"] = "a slug is required"
    if not name.strip():
        errors["name"] = "a name is required"
    if visibility not in Visibility.values:
        errors["visibility"] = f"must be one of {', '.join(Visibility.values)}, not {visibility!r}"
    try:
        license = normalize_license(license)
    except ValueError as exc:
        errors["license"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return license


def create_dataset(
    *,
    user: User,
    organization: Organization,
    slug: str,
    name: str,
    license: str,
    upload: Upload,
    text_field: str,
    label_field: str,
    group_field: str = "",
    description: str = "",
    visibility: str = Visibility.PRIVATE,
    split: SplitSpec = SplitSpec(),
) -> DatasetVersion:
    """Create a dataset with its first version. Nothing is stored unless every check passes."""
    if not can_write(user, organization):
        raise PermissionDenied(f"You may not create datasets in {organization.slug}.")
    license = validate_artifact_fields(slug=slug, name=name, license=license, visibility=visibility)
    if Dataset.objects.filter(organization=organization, slug=slug).exists():
        raise ValidationError(
            {"slug": f"{organization.slug}/{slug} already exists; add a version to it instead"}
        )
    prepared = _prepare_version(upload, text_field, label_field, group_field, split)
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                organization=organization,
                slug=slug,
                name=name,
                description=description,
                visibility=visibility,
                license=license,
                created_by=user,
            )
            return _store_version(dataset, user, prepared)
    except IntegrityError:
        raise ValidationError({"slug": f"{organization.slug}/{slug} already exists"}) from None


def add_dataset_version(
    *,
    user: User,
    dataset: Dataset,
    upload: Upload,
    text_field: str,
    label_field: str,
    group_field: str = "",
    split: SplitSpec = SplitSpec(),
) -> DatasetVersion:
    if not can_write(user, dataset.organization):
        raise PermissionDenied(f"You may not add versions to {dataset.full_name}.")
    prepared = _prepare_version(upload, text_field, label_field, group_field, split)
    with transaction.atomic():
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # serialize version numbering
        return _store_version(dataset, user, prepared)


@dataclass
class _PreparedVersion:
    source_name: str
    source: Upload
    table: tabular.Table
    labels: list[str]
    split_rows: dict[str, list[dict[str, str]]]
    text_field: str
    label_field: str
    group_field: str
    split: SplitSpec


def _prepare_version(
    upload: Upload, text_field: str, label_field: str, group_field: str, split: SplitSpec
) -> _PreparedVersion:
    errors = {}
    try:
        source_name = validate_file_name(upload.name)
    except ValueError as exc:
        errors["file"] = str(exc)
    if not text_field:
        errors["text_field"] = "name the column that holds the text"
    if not label_field:
        errors["label_field"] = "name the column that holds the label"
    if errors:
        raise ValidationError(errors)
    split.validate()
    table = tabular.read_table(_read_upload(upload), source_name)
    labels = tabular.check_schema(table, text_field, label_field, group_field)
    indices = tabular.stratified_split(
        [row[label_field].strip() for row in table.rows],
        split.validation_fraction,
        split.test_fraction,
        split.seed,
    )
    for name in ("train", "validation"):
        if not indices[name]:
            raise ValidationError(
                {"file": f"{len(table.rows)} rows are too few to make a non-empty {name} split"}
            )
    split_rows = {name: [table.rows[i] for i in idx] for name, idx in indices.items() if idx}
    return _PreparedVersion(
        source_name, upload, table, labels, split_rows, text_field, label_field, group_field, split
    )


def _store_version(dataset: Dataset, user: User, prepared: _PreparedVersion) -> DatasetVersion:
    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    label_field = prepared.label_field
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=number,
        text_field=prepared.text_field,
        label_field=label_field,
        group_field=prepared.group_field,
        labels=prepared.labels,
        split_seed=prepared.split.seed,
        split_proportions={
            "validation": prepared.split.validation_fraction,
            "test": prepared.split.test_fraction,
        },
        row_counts={name: len(rows) for name, rows in prepared.split_rows.items()},
        label_distribution={
            name: dict(sorted(Counter(row[label_field].strip() for row in rows).items()))
            for name, rows in prepared.split_rows.items()
        },
        created_by=user,
    )
    prepared.source.file.seek(0)
    source_blob = blobs.store_fileobj(prepared.source.file)
    DatasetFile.objects.create(
        version=version, split=Split.SOURCE, path=prepared.source_name, blob=source_blob,
        rows=len(prepared.table.rows),
    )  # fmt: skip
    for name, rows in prepared.split_rows.items():
        blob = blobs.store_bytes(tabular.write_csv(prepared.table.columns, rows))
        DatasetFile.objects.create(version=version, split=name, path=f"{name}.csv", blob=blob, rows=len(rows))
    return version


def read_split(version: DatasetVersion, split: str) -> list[dict[str, str]]:
    """The rows of one split file, read back from verified blob storage."""
    dataset_file = version.files.select_related("blob").filter(split=split).first()
    if dataset_file is None:
        raise ValidationError({"split": f"{version} has no {split} split"})
    return tabular.read_table(blobs.read_verified(dataset_file.blob), dataset_file.path).rows
