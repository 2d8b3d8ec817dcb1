"""Uploads from Hugging Face clients: repositories made by ``create_repo``, the rules of a model card's
metadata (the YAML front matter of README.md), objects sent through Git LFS, and commits, each of which
becomes the model's next version through the registry's own checks.

A commit builds on the model's latest version, as a git commit builds on its branch: that version's
files, minus the commit's deletions, plus its additions. Existing versions never change; a commit that
changes nothing creates no version.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import yaml
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.core.validators import slug_re
from django.db import transaction

from hub import audit
from hub.checkpoint_files import PICKLE_SUFFIXES, inspect_checkpoint
from hub.licenses import normalize_license
from hub.models import Blob, ModelFile, ModelVersion, Organization, RegisteredModel, Visibility
from hub.paths import validate_file_name
from hub.permissions import can_write
from hub.services import blobs
from hub.services.models import get_or_create_model, store_model_version

# A model created by create_repo carries this until a commit's README.md declares its licence.
UNDECLARED_LICENSE = "LicenseRef-undeclared"
# Files sent inside a commit (base64) are smaller than this; larger ones go through LFS.
LFS_THRESHOLD = 10 * 1024 * 1024
# One NDJSON line carries one base64 file of less than LFS_THRESHOLD, plus its JSON framing.
MAX_COMMIT_LINE_BYTES = 4 * (LFS_THRESHOLD // 3 + 1) + 64 * 1024
# The front-matter block of a model card, as huggingface_hub finds it.
FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
MAX_CARD_BYTES = 1024 * 1024
MAX_MODEL_INDEX_ENTRIES = 10_000
RECEIPTS_PREFIX = "hf-lfs-receipts"


# Repositories


class RepositoryExists(Exception):
    def __init__(self, model: RegisteredModel):
        super().__init__(f"{model.full_name} already exists")
        self.model = model


def create_repository(
    *, user: User, organization_slug: str | None, name: str, private: bool
) -> RegisteredModel:
    """Register an empty model for ``create_repo``; raises RepositoryExists when it is there already.

    Private repositories are private to the organization; the others are internal to the hub (making a
    model visible to anonymous visitors is a decision taken on Agora). The licence stays undeclared
    until the first commit's README.md names it.
    """
    if not organization_slug:
        raise ValidationError(
            {"organization": "repositories on Agora belong to an organization: name it <organization>/<name>"}
        )
    if not name or len(name) > 100 or not slug_re.match(name):
        raise ValidationError(
            {"name": f"{name!r} is not a valid model name: use letters, digits, hyphens and underscores"}
        )
    organization = Organization.objects.filter(slug=organization_slug).first()
    if organization is None or not can_write(user, organization):
        raise PermissionDenied(f"You may not create models in {organization_slug}.")
    existing = RegisteredModel.objects.filter(organization=organization, slug=name).first()
    if existing is not None:
        raise RepositoryExists(existing)
    return get_or_create_model(
        user=user,
        organization=organization,
        slug=name,
        license=UNDECLARED_LICENSE,
        visibility=Visibility.PRIVATE if private else Visibility.INTERNAL,
    )


# Model cards


@dataclass
class CardCheck:
    metadata: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_card(content: str) -> CardCheck:
    """Read and check the metadata of a model card (README.md); problems name the field at fault."""
    match = FRONT_MATTER.search(content)
    if match is None:
        return CardCheck({}, warnings=["Empty or missing yaml metadata in repo card"])
    try:
        metadata = yaml.safe_load(match.group(2))
    except yaml.YAMLError as exc:
        return CardCheck({}, errors=[f"the YAML front matter of README.md does not parse: {exc}"])
    if metadata is None:
        return CardCheck({}, warnings=["Empty or missing yaml metadata in repo card"])
    if not isinstance(metadata, dict):
        return CardCheck({}, errors=["the YAML front matter of README.md must be a mapping of fields"])
    check = CardCheck(metadata)
    try:
        card_license(metadata)
    except ValueError as exc:
        check.errors.append(f"license: {exc}")
    if "model-index" in metadata:
        check.errors.extend(_model_index_errors(metadata["model-index"]))
    return check


def card_license(metadata: dict[str, Any]) -> str | None:
    """The canonical licence id the card declares, or None; raises ValueError for an unknown one.

    The Hub's ``license: other`` with ``license_name: <name>`` reads as ``LicenseRef-<name>``.
    """
    value = metadata.get("license")
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be one licence id (a string), e.g. apache-2.0")
    if value.strip().lower() == "other":
        license_name = metadata.get("license_name")
        if not isinstance(license_name, str) or not license_name.strip():
            raise ValueError("license: other needs license_name: <name> (it becomes LicenseRef-<name>)")
        return normalize_license(f"LicenseRef-{license_name.strip()}")
    return normalize_license(value)


def _model_index_errors(model_index: Any) -> list[str]:
    """The Hub's shape: a list of {name, results: [{task: {type}, dataset: {name, type}, metrics: [{type,
    value}]}]}. YAML aliases can make a small file describe a huge structure, so the walk is bounded."""
    errors: list[str] = []
    visited = 0

    def need_text(mapping: dict, key: str, where: str) -> None:
        value = mapping.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{where}.{key}: required, a non-empty string")

    def need_list(value: Any, where: str) -> list:
        if not isinstance(value, list) or not value:
            errors.append(f"{where}: required, a non-empty list")
            return []
        return value

    def need_mapping(value: Any, where: str) -> dict | None:
        if not isinstance(value, dict):
            errors.append(f"{where}: required, a mapping")
            return None
        return value

    for i, entry in enumerate(need_list(model_index, "model-index")):
        where = f"model-index[{i}]"
        if (entry := need_mapping(entry, where)) is None:
            continue
        need_text(entry, "name", where)
        for j, result in enumerate(need_list(entry.get("results"), f"{where}.results")):
            visited += 1
            if visited > MAX_MODEL_INDEX_ENTRIES or len(errors) > 50:
                return [*errors, "model-index: too many entries to check"]
            at = f"{where}.results[{j}]"
            if (result := need_mapping(result, at)) is None:
                continue
            if (task := need_mapping(result.get("task"), f"{at}.task")) is not None:
                need_text(task, "type", f"{at}.task")
            if (dataset := need_mapping(result.get("dataset"), f"{at}.dataset")) is not None:
                need_text(dataset, "name", f"{at}.dataset")
                need_text(dataset, "type", f"{at}.dataset")
            for k, metric in enumerate(need_list(result.get("metrics"), f"{at}.metrics")):
                visited += 1
                if visited > MAX_MODEL_INDEX_ENTRIES:
                    return [*errors, "model-index: too many entries to check"]
                if (metric := need_mapping(metric, f"{at}.metrics[{k}]")) is not None:
                    need_text(metric, "type", f"{at}.metrics[{k}]")
                    if metric.get("value") is None:
                        errors.append(f"{at}.metrics[{k}].value: required")
    return errors


# Upload modes


def refuse_pickles(paths: Iterable[str]) -> None:
    """Refuse pickle weights before anything is sent: the registry would refuse the version anyway."""
    pickles = [path for path in paths if PurePosixPath(path).suffix.lower() in PICKLE_SUFFIXES]
    if pickles:
        raise ValidationError(
            {
                "files": f"pickle weights are refused ({', '.join(pickles)}): they can run code when loaded. "
                "Convert them to safetensors (e.g. model.save_pretrained(dir, safe_serialization=True))."
            }
        )


# LFS objects


def _receipt_key(model: RegisteredModel, oid: str) -> str:
    return f"{RECEIPTS_PREFIX}/{model.pk}/{oid}"


def object_uploaded(model: RegisteredModel, oid: str) -> bool:
    """Whether a commit to this model may use the LFS object: it was uploaded to this model, or a version
    of the model has it already. Content stored for other models does not count: knowing a hash is not
    having the content, and it must not open another organization's (or a gated) file."""
    if ModelFile.objects.filter(version__model=model, blob_id=oid).exists():
        return True
    return Blob.objects.filter(sha256=oid).exists() and blobs.blob_storage().exists(_receipt_key(model, oid))


class ObjectMismatch(Exception):
    """The bytes sent are not the object announced."""


def _verified_chunks(chunks: Iterable[bytes], oid: str, size: int) -> Iterator[bytes]:
    """Pass the chunks on, and fail before the last one ends if they are not ``size`` bytes hashing to
    ``oid``: the blob store publishes content only when the stream ends without error."""
    digest = hashlib.sha256()
    received = 0
    for chunk in chunks:
        received += len(chunk)
        if received > size:
            raise ObjectMismatch(f"the body is longer than the announced {size} bytes")
        digest.update(chunk)
        yield chunk
    if received != size:
        raise ObjectMismatch(f"the body has {received} bytes, not the announced {size}")
    if digest.hexdigest() != oid:
        raise ObjectMismatch(f"the body's SHA-256 is {digest.hexdigest()}, not the announced {oid}")


def receive_object(
    *, user: User, model: RegisteredModel, oid: str, size: int, chunks: Iterable[bytes]
) -> Blob:
    """Store an LFS object uploaded for a model, checked against its announced hash and size."""
    if not can_write(user, model.organization):
        raise PermissionDenied(f"You may not upload to {model.full_name}.")
    blob = blobs.store_chunks(_verified_chunks(chunks, oid, size))
    storage = blobs.blob_storage()
    key = _receipt_key(model, oid)
    if not storage.exists(key):
        storage.save(key, ContentFile(b""))
    return blob


# Commits


@dataclass(frozen=True)
class StoredFile:
    """A file whose content is in the blob storage already (size -1: not given by the commit)."""

    sha256: str
    size: int


@dataclass(frozen=True)
class ReceivedFile:
    """A file sent inside the commit, written to the staging folder."""

    path: Path
    sha256: str
    size: int


Source = StoredFile | ReceivedFile


@dataclass
class Commit:
    """A commit payload as read: its message, the commit it expects to build on, and its operations in
    order: ("add", path, source) and ("delete", path, is_folder)."""

    summary: str = ""
    description: str = ""
    parent_commit: str | None = None
    operations: list[tuple[str, str, Source | bool]] = field(default_factory=list)


class StaleParent(Exception):
    """The commit was prepared on another commit than the model's latest version."""


@dataclass(frozen=True)
class CommitResult:
    version: ModelVersion
    created: bool


def head_version(model: RegisteredModel) -> ModelVersion | None:
    """The version a commit builds on: the model's latest, whatever its review status."""
    return model.versions.order_by("-number").first()


@contextmanager
def staging_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="hf-commit-", dir=blobs.incoming_dir()))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Readable(Protocol):
    def readline(self, size: int = ..., /) -> bytes: ...


def read_lines(stream: Readable, max_line_bytes: int = MAX_COMMIT_LINE_BYTES) -> Iterator[bytes]:
    """The lines of an NDJSON body, refusing one longer than ``max_line_bytes``."""
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        if len(line) > max_line_bytes:
            raise ValidationError(
                {
                    "commit": f"a line of the commit exceeds {max_line_bytes} bytes: "
                    "send large files through LFS"
                }
            )
        if line.strip():
            yield line


def _commit_error(number: int, message: str) -> ValidationError:
    return ValidationError({"commit": f"line {number} of the commit: {message}"})


def _path_of(value: dict, number: int, *, folder: bool = False) -> str:
    path = value.get("path")
    if not isinstance(path, str):
        raise _commit_error(number, "a path is required")
    try:
        return validate_file_name(path.rstrip("/") if folder else path, allow_folders=True)
    except ValueError as exc:
        raise _commit_error(number, f"{path!r}: {exc}") from None


def read_commit(lines: Iterable[bytes], received_dir: Path) -> Commit:
    """Parse the NDJSON commit huggingface_hub sends: a header, then ``file`` (base64 content),
    ``lfsFile`` (an uploaded object), ``deletedFile`` and ``deletedFolder`` lines."""
    commit = Commit()
    max_files = settings.AGORA_ARCHIVE_MAX_MEMBERS
    header_seen = False
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _commit_error(number, "not valid JSON") from None
        if not isinstance(item, dict) or not isinstance(item.get("value"), dict):
            raise _commit_error(number, 'expected {"key": ..., "value": {...}}')
        key, value = item.get("key"), item["value"]
        if key == "header":
            if header_seen:
                raise _commit_error(number, "the header is given twice")
            _read_header(commit, value, number)
            header_seen = True
            continue
        if not header_seen:
            raise _commit_error(number, "the commit must start with its header")
        if len(commit.operations) >= max_files:
            raise _commit_error(number, f"a commit may hold at most {max_files} operations")
        if key == "file":
            path = _path_of(value, number)
            commit.operations.append(("add", path, _receive_regular(value, received_dir, number)))
        elif key == "lfsFile":
            commit.operations.append(("add", _path_of(value, number), _lfs_reference(value, number)))
        elif key in ("deletedFile", "deletedFolder"):
            folder = key == "deletedFolder"
            commit.operations.append(("delete", _path_of(value, number, folder=folder), folder))
        else:
            raise _commit_error(
                number, f"unsupported operation {key!r} (use file, lfsFile, deletedFile or deletedFolder)"
            )
    if not header_seen:
        raise ValidationError({"commit": "the commit is empty: it must start with its header"})
    return commit


def _read_header(commit: Commit, value: dict, number: int) -> None:
    summary, description = value.get("summary", ""), value.get("description", "")
    parent = value.get("parentCommit")
    if not isinstance(summary, str) or not isinstance(description, str):
        raise _commit_error(number, "summary and description must be strings")
    if parent is not None and (not isinstance(parent, str) or not re.fullmatch(r"[0-9a-f]{40}", parent)):
        raise _commit_error(number, "parentCommit must be a 40-character commit id")
    commit.summary, commit.description, commit.parent_commit = summary[:1000], description[:10_000], parent


def _receive_regular(value: dict, received_dir: Path, number: int) -> ReceivedFile:
    if value.get("encoding", "base64") != "base64":
        raise _commit_error(number, "file content must be base64-encoded")
    content = value.get("content")
    if not isinstance(content, str):
        raise _commit_error(number, "file content is missing")
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise _commit_error(number, "file content is not valid base64") from None
    if len(data) >= LFS_THRESHOLD:
        raise _commit_error(number, f"files of {LFS_THRESHOLD} bytes or more go through LFS")
    target = received_dir / str(number)
    target.write_bytes(data)
    return ReceivedFile(path=target, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def _lfs_reference(value: dict, number: int) -> StoredFile:
    oid, algo, size = value.get("oid"), value.get("algo", "sha256"), value.get("size")
    if algo != "sha256" or not isinstance(oid, str) or not re.fullmatch(r"[0-9a-f]{64}", oid):
        raise _commit_error(number, "an lfsFile needs algo sha256 and a 64-character hexadecimal oid")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise _commit_error(number, "an lfsFile's size must be a non-negative integer")
    return StoredFile(sha256=oid, size=size if size is not None else -1)


def _apply(commit: Commit, head: ModelVersion | None) -> dict[str, Source]:
    """The files of the new version: the head's, with the commit's operations applied in order."""
    files: dict[str, Source] = {}
    if head is not None:
        for model_file in head.files.select_related("blob"):
            files[model_file.path] = StoredFile(model_file.blob.sha256, model_file.blob.size)
    for action, path, source in commit.operations:
        if action == "add":
            files[path] = source  # type: ignore[assignment]
        elif source:  # a folder
            inside = [name for name in files if name.startswith(path + "/")]
            if not inside:
                raise ValidationError({"commit": f"cannot delete the folder {path}: it holds no files"})
            for name in inside:
                del files[name]
        elif files.pop(path, None) is None:
            raise ValidationError({"commit": f"cannot delete {path}: A file with this name doesn't exist"})
    # As the registry keeps them: hidden top-level files (.gitattributes) are not part of a version.
    files = {name: source for name, source in files.items() if not name.startswith(".")}
    for name in files:
        for parent in PurePosixPath(name).parents:
            if str(parent) in files:
                raise ValidationError({"commit": f"{name} clashes with the file {parent}"})
    return files


def _same_files(files: dict[str, Source], head: ModelVersion | None) -> bool:
    if head is None:
        return False
    head_files = dict(head.files.values_list("path", "blob_id"))
    return head_files == {name: source.sha256 for name, source in files.items()}


def _check_objects(model: RegisteredModel, files: dict[str, Source]) -> dict[str, Source]:
    """Give LFS references their stored size; refuse objects not uploaded to this model, and a version
    beyond the upload limits."""
    oids = {source.sha256 for source in files.values() if isinstance(source, StoredFile)}
    stored = dict(Blob.objects.filter(sha256__in=oids).values_list("sha256", "size"))
    kept = set(
        ModelFile.objects.filter(version__model=model, blob_id__in=oids).values_list("blob_id", flat=True)
    )
    checked: dict[str, Source] = {}
    for name, source in files.items():
        if isinstance(source, StoredFile):
            oid = source.sha256
            if oid not in stored or (oid not in kept and not object_uploaded(model, oid)):
                raise ValidationError(
                    {"commit": f"{name}: the LFS object {oid} was not uploaded to {model.full_name}"}
                )
            if source.size >= 0 and source.size != stored[oid]:
                raise ValidationError(
                    {"commit": f"{name}: the LFS object {oid} has {stored[oid]} bytes, not {source.size}"}
                )
            source = StoredFile(oid, stored[oid])
        checked[name] = source
    total, limit = sum(source.size for source in checked.values()), settings.AGORA_ARCHIVE_MAX_BYTES
    if total > limit:
        raise ValidationError(
            {"commit": f"the version would hold {total} bytes, more than the {limit} allowed"}
        )
    if len(checked) > settings.AGORA_ARCHIVE_MAX_MEMBERS:
        raise ValidationError(
            {"commit": f"the version would hold more than {settings.AGORA_ARCHIVE_MAX_MEMBERS} files"}
        )
    return checked


def _place(source: Source, target: Path) -> None:
    """Put a file of the new version in the checkpoint folder, linking rather than copying when possible."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, ReceivedFile):
        os.link(source.path, target)
        return
    storage = blobs.blob_storage()
    blob = Blob(sha256=source.sha256, size=source.size)
    if isinstance(storage, FileSystemStorage):
        try:
            os.link(storage.path(blob.storage_key), target)
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
    blobs.copy_to_path(blob, target)


def _assemble(files: dict[str, Source], directory: Path) -> None:
    for name, source in files.items():
        try:
            _place(source, directory / name)
        except (FileExistsError, NotADirectoryError):
            raise ValidationError({"commit": f"{name} clashes with another file or folder"}) from None


def _declared_license(model: RegisteredModel, directory: Path) -> str | None:
    """The licence to give the model from its card, or None to keep its own; refuses a card that breaks the
    card rules, a missing licence on a model that has none yet, and one that contradicts the model's."""
    readme = directory / "README.md"
    declared = None
    if readme.is_file():
        with open(readme, "rb") as handle:  # the metadata opens the card; a huge card is not read whole
            text = handle.read(MAX_CARD_BYTES).decode("utf-8-sig", errors="replace")
        check = check_card(text)
        if check.errors:
            raise ValidationError({"README.md": check.errors})
        declared = card_license(check.metadata)
    if model.license == UNDECLARED_LICENSE:
        if declared is None:
            raise ValidationError(
                {
                    "README.md": f"{model.full_name} has no licence yet: declare it in the YAML front matter "
                    "of README.md, e.g. a first line '---', then 'license: apache-2.0', then '---'"
                }
            )
        return declared
    if declared is not None and declared != model.license:
        raise ValidationError(
            {
                "README.md": f"README.md declares the licence {declared}, but {model.full_name} is licensed "
                f"{model.license} on Agora: make them agree"
            }
        )
    return None


def commit(
    *,
    user: User,
    model: RegisteredModel,
    lines: Iterable[bytes],
    commit_id: Callable[[ModelVersion], str],
) -> CommitResult:
    """Turn a commit into the model's next version (origin ``upload``), checked as every upload is.

    Nothing is stored unless every check passes; a commit that leaves the files as they are returns the
    latest version instead of a copy of it.
    """
    if not can_write(user, model.organization):
        raise PermissionDenied(f"You may not add versions to {model.full_name}.")
    with staging_folder() as staging:
        received = staging / "received"
        received.mkdir()
        parsed = read_commit(lines, received)
        head = head_version(model)
        if parsed.parent_commit is not None and (head is None or commit_id(head) != parsed.parent_commit):
            raise StaleParent(
                f"A commit has happened since {parsed.parent_commit}: {model.full_name} is at "
                f"{commit_id(head) if head else 'no commit'}. Refresh and try again."
            )
        files = _apply(parsed, head)
        if not files:
            raise ValidationError({"commit": "the commit leaves the model without files"})
        if _same_files(files, head):
            return CommitResult(version=head, created=False)  # type: ignore[arg-type]
        files = _check_objects(model, files)
        directory = staging / "checkpoint"
        directory.mkdir()
        _assemble(files, directory)
        new_license = _declared_license(model, directory)
        info = inspect_checkpoint(directory)
        contents = {
            name: blobs.adopt_path(directory / name, source.sha256)
            if isinstance(source, ReceivedFile)
            else blobs.Content(source.sha256, source.size)
            for name, source in files.items()
            if name in info.files
        }
        with transaction.atomic():
            if new_license is not None:
                _set_license(user, model, new_license)
            version = store_model_version(
                model=model,
                directory=directory,
                origin=ModelVersion.Origin.UPLOAD,
                user=user,
                info=info,
                contents=contents,
            )
            # The commit's message says why the version was uploaded; the version has no field for it.
            audit.record(
                "model_version.commit",
                actor=user,
                organization=model.organization,
                target=version,
                after={"summary": parsed.summary, "description": parsed.description},
            )
    return CommitResult(version=version, created=True)


def _set_license(user: User, model: RegisteredModel, license: str) -> None:
    before = model.license
    model.license = license
    model.save(update_fields=["license", "updated_at"])
    audit.record(
        "model.update",
        actor=user,
        organization=model.organization,
        target=model,
        before={"license": before},
        after={"license": license},
    )
