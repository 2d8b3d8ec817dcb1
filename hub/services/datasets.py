"""Registering datasets and their immutable versions, and editing their datasheets.

Split files keep the format they were uploaded in (DatasetFile.format): a CSV/TSV/JSONL split holds
the uploaded bytes of its rows and a Parquet split the uploaded batches, so types, quoting and
nested JSON survive, given splits are stored as uploaded, and downloads return what was sent.
``read_split`` reads every format back as rows of text for training.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from hub import audit, datasheets, tabular
from hub.licenses import normalize_license
from hub.models import (
    Blob,
    Dataset,
    DatasetFile,
    DatasetVersion,
    Organization,
    Split,
    Visibility,
)
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
        for name in ("validation_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0 <= value <= 0.5:
                errors[name] = f"must be between 0 and 0.5, not {value:g}"
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
# Given splits: the form/API field of each split's file.
SPLIT_FILE_FIELDS = {Split.TRAIN: "train_file", Split.VALIDATION: "validation_file", Split.TEST: "test_file"}


def _as_upload(file: Any) -> Upload | None:
    return Upload(name=file.name, file=file, size=file.size) if file else None


def version_arguments(cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of add_dataset_version from a form's or serializer's cleaned data.

    The dataset form and the API serializers name their fields alike, so both call this.
    """
    split_uploads = {
        split: _as_upload(cleaned.get(name)) for split, name in SPLIT_FILE_FIELDS.items() if cleaned.get(name)
    }
    return {
        "upload": _as_upload(cleaned.get("file")),
        "split_uploads": split_uploads,
        "split": SplitSpec(cleaned["validation_fraction"], cleaned["test_fraction"], cleaned["seed"]),
        **{name: cleaned.get(name) or "" for name in VERSION_FIELDS},
    }


def dataset_arguments(cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of create_dataset from cleaned data (see version_arguments)."""
    return {**version_arguments(cleaned), **{name: cleaned[name] for name in ARTIFACT_FIELDS}}


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
    text_field: str,
    label_field: str,
    group_field: str = "",
    upload: Upload | None = None,
    split_uploads: Mapping[str, Upload] | None = None,
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
    schema = tabular.Schema(text_field, label_field, group_field)
    with _prepare_version(upload, split_uploads or {}, schema, split) as prepared:
        try:
            with transaction.atomic():
                dataset = Dataset.objects.create(
                    organization=organization, slug=slug, name=name, description=description,
                    visibility=visibility, license=license, created_by=user,
                )  # fmt: skip
                audit.record(
                    "dataset.create", actor=user, organization=organization, target=dataset,
                    after={"name": name, "license": license, "visibility": visibility},
                )  # fmt: skip
                return _store_version(dataset, user, prepared)
        except IntegrityError:
            raise ValidationError({"slug": f"{organization.slug}/{slug} already exists"}) from None


def add_dataset_version(
    *,
    user: User,
    dataset: Dataset,
    text_field: str,
    label_field: str,
    group_field: str = "",
    upload: Upload | None = None,
    split_uploads: Mapping[str, Upload] | None = None,
    split: SplitSpec = SplitSpec(),
) -> DatasetVersion:
    if not can_write(user, dataset.organization):
        raise PermissionDenied(f"You may not add versions to {dataset.full_name}.")
    schema = tabular.Schema(text_field, label_field, group_field)
    with _prepare_version(upload, split_uploads or {}, schema, split) as prepared, transaction.atomic():
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # serialize version numbering
        return _store_version(dataset, user, prepared)


@dataclass
class _PreparedFile:
    split: str
    path: str
    format: str
    file: BinaryIO
    rows: int


@dataclass
class _PreparedVersion:
    schema: tabular.Schema
    labels: list[str]
    files: list[_PreparedFile]
    label_distribution: dict[str, dict[str, int]]
    split: SplitSpec | None  # None when the splits were given
    spools: list[BinaryIO] = field(default_factory=list)


@contextlib.contextmanager
def _prepare_version(
    upload: Upload | None, split_uploads: Mapping[str, Upload], schema: tabular.Schema, split: SplitSpec
) -> Iterator[_PreparedVersion]:
    """Check everything and write the split files to temporary files; they are removed on exit."""
    errors = {}
    if upload and split_uploads:
        errors["file"] = (
            "upload either one file to split (file) or the split files (train_file, validation_file, "
            "test_file), not both"
        )
    elif not upload and not split_uploads:
        errors["file"] = "upload a file to split, or train_file and validation_file"
    for required in (Split.TRAIN, Split.VALIDATION):
        if split_uploads and required not in split_uploads and not upload:
            errors[SPLIT_FILE_FIELDS[required]] = "required when the splits are given as separate files"
    if not schema.text_field:
        errors["text_field"] = "name the column that holds the text"
    if not schema.label_field:
        errors["label_field"] = "name the column that holds the label"
    if errors:
        raise ValidationError(errors)
    if upload:
        split.validate()
        prepared = _prepare_single(upload, schema, split)
    else:
        prepared = _prepare_given(split_uploads, schema)
    try:
        yield prepared
    finally:
        for spool in prepared.spools:
            spool.close()


def _checked_upload(upload: Upload, field_name: str) -> str:
    try:
        name = validate_file_name(upload.name)
    except ValueError as exc:
        raise ValidationError({field_name: str(exc)}) from None
    limit = settings.AGORA_MAX_DATASET_BYTES
    if upload.size > limit:
        raise ValidationError({field_name: f"the file is {upload.size} bytes; the limit is {limit} bytes"})
    return name


def _prepare_single(upload: Upload, schema: tabular.Schema, split: SplitSpec) -> _PreparedVersion:
    source_name = _checked_upload(upload, "file")
    scan = tabular.scan(upload.file, source_name, schema)
    tabular.require_two_classes(scan.label_counts, schema.label_field)
    assignment = tabular.stratified_assignment(
        scan.label_ids, scan.label_names, split.validation_fraction, split.test_fraction, split.seed
    )
    by_split = Counter(zip(assignment, scan.label_ids, strict=True))
    rows = Counter(assignment)
    for code in (0, 1):
        if not rows[code]:
            raise ValidationError(
                {"file": f"{scan.rows} rows are too few to make a non-empty {tabular.SPLITS[code]} split"}
            )
    spools = tabular.write_splits(upload.file, scan, assignment, settings.AGORA_WORK_DIR)
    upload.file.seek(0)
    files = [_PreparedFile(Split.SOURCE, source_name, scan.format, upload.file, scan.rows)]
    distribution = {}
    for code, name in enumerate(tabular.SPLITS):
        if rows[code]:
            files.append(_PreparedFile(name, f"{name}.{scan.format}", scan.format, spools[code], rows[code]))
            distribution[name] = {
                label: by_split[(code, label_id)]
                for label_id, label in sorted(enumerate(scan.label_names), key=lambda item: item[1])
                if by_split[(code, label_id)]
            }
    return _PreparedVersion(schema, sorted(scan.label_names), files, distribution, split, spools)


def _prepare_given(split_uploads: Mapping[str, Upload], schema: tabular.Schema) -> _PreparedVersion:
    files, counts = [], {}
    for split, upload in split_uploads.items():
        field_name = SPLIT_FILE_FIELDS[split]
        name = _checked_upload(upload, field_name)
        scan = tabular.scan(upload.file, name, schema, field=field_name, positions=False)
        upload.file.seek(0)
        files.append(_PreparedFile(split, f"{split}.{scan.format}", scan.format, upload.file, scan.rows))
        counts[split] = scan.label_counts
    train = counts[Split.TRAIN]
    tabular.require_two_classes(train, schema.label_field, "train_file: ")
    for split in (Split.VALIDATION, Split.TEST):
        unseen = sorted(set(counts.get(split, ())) - set(train))
        if unseen:
            raise ValidationError(
                {
                    SPLIT_FILE_FIELDS[split]: f"the {split} split has labels the train split lacks: "
                    f"{', '.join(unseen[:10])}; a model trained on it could never predict them"
                }
            )
    labels = sorted(set().union(*counts.values()))
    distribution = {split: dict(sorted(counts[split].items())) for split in tabular.SPLITS if split in counts}
    files.sort(key=lambda f: tabular.SPLITS.index(f.split))
    return _PreparedVersion(schema, labels, files, distribution, None)


def _store_version(dataset: Dataset, user: User, prepared: _PreparedVersion) -> DatasetVersion:
    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    spec = prepared.split
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=number,
        text_field=prepared.schema.text_field,
        label_field=prepared.schema.label_field,
        group_field=prepared.schema.group_field,
        labels=prepared.labels,
        split_seed=spec.seed if spec else None,
        split_proportions=(
            {"validation": spec.validation_fraction, "test": spec.test_fraction} if spec else {}
        ),
        row_counts={f.split: f.rows for f in prepared.files if f.split != Split.SOURCE},
        label_distribution=prepared.label_distribution,
        created_by=user,
    )
    for prepared_file in prepared.files:
        prepared_file.file.seek(0)
        DatasetFile.objects.create(
            version=version, split=prepared_file.split, path=prepared_file.path, format=prepared_file.format,
            blob=blobs.store_fileobj(prepared_file.file), rows=prepared_file.rows,
        )  # fmt: skip
    audit.record(
        "dataset_version.create", actor=user, organization=dataset.organization, target=version,
        after={"number": number, "row_counts": version.row_counts, "labels": len(version.labels)},
    )  # fmt: skip
    refresh_card_completeness(dataset)
    # A function with a __qualname__: robust on_commit names it when the broker is down (no partial).
    version_id = version.pk
    transaction.on_commit(lambda: _queue_statistics(version_id), robust=True)
    return version


def refresh_card_completeness(dataset: Dataset) -> None:
    """Store the datasheet's completeness (its schema comes from the latest version) and touch it."""
    dataset.card_completeness = datasheets.dataset_completeness(dataset).score
    dataset.save(update_fields=["card_completeness", "updated_at"])


def _queue_statistics(version_id: int) -> None:
    from hub.tasks import compute_dataset_statistics  # the task module imports the services

    compute_dataset_statistics.delay(version_id)


@contextlib.contextmanager
def verified_copy(blob: Blob) -> Iterator[BinaryIO]:
    """A temporary local copy of a blob, checked against its hash, for formats that need seeking."""
    settings.AGORA_WORK_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=settings.AGORA_WORK_DIR) as handle:
        for chunk in blobs.iter_verified(blob):
            handle.write(chunk)
        handle.seek(0)
        yield handle


def read_split(version: DatasetVersion, split: str) -> list[dict[str, str]]:
    """The rows of one split file as text, whatever its format, read back from verified blob storage."""
    dataset_file = version.files.select_related("blob").filter(split=split).first()
    if dataset_file is None:
        raise ValidationError({"split": f"{version} has no {split} split"})
    with verified_copy(dataset_file.blob) as handle:
        return list(tabular.iter_values(handle, dataset_file.format))


def update_datasheet(user: User, dataset: Dataset, sections: Mapping[str, Any]) -> Dataset:
    """Replace the dataset's datasheet with the given sections (section key → text)."""
    if not can_write(user, dataset.organization):
        raise PermissionDenied(f"You may not edit the datasheet of {dataset.full_name}.")
    old, new = dataset.datasheet or {}, datasheets.clean_sections(sections)
    # The log keeps which sections changed and their lengths, not the prose itself.
    changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
    with transaction.atomic():
        dataset.datasheet = new
        dataset.save(update_fields=["datasheet", "updated_at"])
        refresh_card_completeness(dataset)
        audit.record(
            "datasheet.update", actor=user, organization=dataset.organization, target=dataset,
            before={"sections": {key: len(old[key]) for key in changed if key in old}},
            after={"sections": {key: len(new[key]) for key in changed if key in new}},
        )  # fmt: skip
    return dataset
