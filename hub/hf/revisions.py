"""Git-like revisions for the Hugging Face endpoints: commit ids of versions and revision resolution.

A model's published versions are its commits. ``main`` is the latest published version, ``v<n>`` each
published (or since deprecated) version, an alias (``production``) the version it points at, and the 40-hex
commit id the version itself. A dataset's versions are all visible with the dataset, so ``main`` is its
latest version.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import QuerySet

from hub.models import Dataset, DatasetFile, DatasetVersion, ModelFile, ModelVersion, RegisteredModel

MAIN = "main"
COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")
VERSION_TAG = re.compile(r"^v([1-9][0-9]{0,8})$")
# Clients may spell branches and tags out in full.
REF_PREFIXES = ("refs/heads/", "refs/tags/")
# Deprecated versions stay reachable by tag, alias and commit (pinned clients keep working); main skips them.
SERVED_STATUSES = (ModelVersion.Status.PUBLISHED, ModelVersion.Status.DEPRECATED)


class RevisionNotFound(Exception):
    """The revision names no published version of the repository."""


def _digest(kind: str, repository_id: int, number: int, files: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"agora-{kind}\0{repository_id}\0{number}\0".encode())
    for path, sha256 in sorted(files):
        digest.update(f"{path}\0{sha256}\n".encode())
    return digest.hexdigest()


def commit_id(version: ModelVersion) -> str:
    """A deterministic 40-hex id for a version: sha1 over its identity and its files' (path, sha256).

    Published files never change, so the id is stable; clients use it as the commit the version is.
    """
    files = version.files.values_list("path", "blob_id")
    return _digest("model-version", version.model_id, version.number, files)


def dataset_commit_id(version: DatasetVersion) -> str:
    files = version.files.values_list("path", "blob_id")
    return _digest("dataset-version", version.dataset_id, version.number, files)


def commit_ids(versions: Iterable[ModelVersion | DatasetVersion]) -> dict[int, str]:
    """Commit ids of many versions of one kind (version pk → id), their files read in one query."""
    versions = list(versions)
    if not versions:
        return {}
    is_model = isinstance(versions[0], ModelVersion)
    file_class = ModelFile if is_model else DatasetFile
    files: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = file_class.objects.filter(version__in=[v.pk for v in versions])
    for version_id, path, sha256 in rows.values_list("version_id", "path", "blob_id"):
        files[version_id].append((path, sha256))
    if is_model:
        return {v.pk: _digest("model-version", v.model_id, v.number, files[v.pk]) for v in versions}
    return {v.pk: _digest("dataset-version", v.dataset_id, v.number, files[v.pk]) for v in versions}


def _find_by_commit_id(versions: QuerySet, name: str):
    candidates = list(versions)
    ids = commit_ids(candidates)
    return next((version for version in candidates if ids[version.pk] == name), None)


def _strip_ref_prefix(revision: str) -> str:
    for prefix in REF_PREFIXES:
        if revision.startswith(prefix):
            return revision[len(prefix) :]
    return revision


def served_versions(model: RegisteredModel):
    return model.versions.filter(status__in=SERVED_STATUSES)


def latest_published_version(model: RegisteredModel) -> ModelVersion | None:
    return model.versions.filter(status=ModelVersion.Status.PUBLISHED).order_by("-number").first()


def resolve_model_revision(model: RegisteredModel, revision: str) -> ModelVersion:
    """The published version a revision names; raises RevisionNotFound."""
    name = _strip_ref_prefix(revision)
    served = served_versions(model)
    version = None
    if name == MAIN:
        version = latest_published_version(model)
    elif match := VERSION_TAG.match(name):
        version = served.filter(number=int(match.group(1))).first()
    elif COMMIT_ID.match(name):
        version = _find_by_commit_id(served, name)
    else:
        alias = model.aliases.select_related("version").filter(name=name).first()
        if alias is not None and alias.version.status in SERVED_STATUSES:
            version = alias.version
    if version is None:
        raise RevisionNotFound(revision)
    return version


def resolve_dataset_revision(dataset: Dataset, revision: str) -> DatasetVersion:
    """The dataset version a revision names (main, v<n> or a commit id); raises RevisionNotFound."""
    name = _strip_ref_prefix(revision)
    versions = dataset.versions.all()
    version = None
    if name == MAIN:
        version = versions.order_by("-number").first()
    elif match := VERSION_TAG.match(name):
        version = versions.filter(number=int(match.group(1))).first()
    elif COMMIT_ID.match(name):
        version = _find_by_commit_id(versions, name)
    if version is None:
        raise RevisionNotFound(revision)
    return version
