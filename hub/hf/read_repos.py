"""A version seen as a Hugging Face repository at one commit: its files with git and LFS identities, the
JSON the Hub answers for model_info, dataset_info, tree and paths-info listings, and download counting.

Files a git repository on the Hub would keep in LFS (weights and other binaries, anything of 10 MiB or
more) are described by their SHA-256 as LFS objects; the others by their git blob id, as the Hub does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.utils import timezone

from hub import permissions
from hub.hf.revisions import commit_id, dataset_commit_id
from hub.models import (
    Blob,
    Dataset,
    DatasetVersion,
    Download,
    ModelVersion,
    RegisteredModel,
    Split,
    Visibility,
)
from hub.services import blobs

LFS_THRESHOLD = 10 * 1024 * 1024
# The patterns of the Hub's default .gitattributes: these files go to LFS whatever their size.
LFS_SUFFIXES = (
    ".7z", ".arrow", ".bin", ".bz2", ".ckpt", ".ftz", ".gz", ".h5", ".joblib", ".mlmodel", ".model",
    ".msgpack", ".npy", ".npz", ".onnx", ".ot", ".parquet", ".pb", ".pickle", ".pkl", ".pt", ".pth",
    ".rar", ".safetensors", ".tar", ".tflite", ".tgz", ".wasm", ".xz", ".zip", ".zst",
)  # fmt: skip
# As on the Hub, a model download is a request for one of these files at the repository's root: loading a
# model fetches its config once, however many weight shards follow.
QUERY_FILES = frozenset({"config.json", "config.yaml", "hyperparams.yaml", "meta.yaml"})
DOWNLOADS_WINDOW = timedelta(days=30)
LIBRARY_NAME = "transformers"
SOURCE_FOLDER = "source"


def git_blob_id(data_size: int, chunks: Iterable[bytes]) -> str:
    """The git object id of a blob: sha1 over ``blob <size>\\0`` and the content."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {data_size}\0".encode())
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def stored_git_blob_id(blob: Blob) -> str:
    """The git blob id of stored content, read once (hash-verified) and remembered: content never changes."""
    key = f"hf:git-blob-id:{blob.sha256}"
    cached = cache.get(key)
    if cached is None:
        cached = git_blob_id(blob.size, blobs.iter_verified(blob))
        cache.set(key, cached, timeout=None)
    return cached


def lfs_pointer(blob: Blob) -> bytes:
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{blob.sha256}\nsize {blob.size}\n".encode()
    )


@dataclass(frozen=True)
class RepoFile:
    path: str
    blob: Blob

    @property
    def size(self) -> int:
        return self.blob.size

    @property
    def is_lfs(self) -> bool:
        return self.blob.size >= LFS_THRESHOLD or PurePosixPath(self.path).suffix.lower() in LFS_SUFFIXES

    @property
    def etag(self) -> str:
        """The ETag the Hub gives: the SHA-256 of an LFS file, the git blob id of another (unquoted)."""
        return self.blob.sha256 if self.is_lfs else stored_git_blob_id(self.blob)

    @property
    def oid(self) -> str:
        """The git object id: of the LFS pointer for an LFS file, of the content otherwise."""
        if self.is_lfs:
            pointer = lfs_pointer(self.blob)
            return git_blob_id(len(pointer), [pointer])
        return stored_git_blob_id(self.blob)

    def lfs_info(self) -> dict | None:
        if not self.is_lfs:
            return None
        return {"oid": self.blob.sha256, "size": self.blob.size, "pointerSize": len(lfs_pointer(self.blob))}


@dataclass(frozen=True)
class Snapshot:
    """One version of a model or a dataset as a repository at one commit."""

    repo_type: str  # "model" or "dataset"
    artifact: RegisteredModel | Dataset
    version: ModelVersion | DatasetVersion
    commit: str
    committed_at: datetime
    files: dict[str, RepoFile] = field(default_factory=dict)

    @property
    def repo_id(self) -> str:
        return self.artifact.full_name

    @property
    def title(self) -> str:
        return f"v{self.version.number}"

    def folders(self) -> set[str]:
        return {
            str(parent) for path in self.files for parent in PurePosixPath(path).parents if str(parent) != "."
        }

    def last_commit(self) -> dict:
        return {"id": self.commit, "title": self.title, "date": iso(self.committed_at)}


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def model_snapshot(version: ModelVersion) -> Snapshot:
    files = {f.path: RepoFile(f.path, f.blob) for f in version.files.select_related("blob").order_by("path")}
    return Snapshot(
        repo_type="model",
        artifact=version.model,
        version=version,
        commit=commit_id(version),
        committed_at=version.published_at or version.created_at,
        files=files,
    )


def dataset_file_path(path: str, split: str) -> str:
    # The uploaded source sits apart from the split files, whose names the datasets library recognizes.
    return f"{SOURCE_FOLDER}/{path}" if split == Split.SOURCE else path


def dataset_snapshot(version: DatasetVersion) -> Snapshot:
    entries = sorted(
        (dataset_file_path(f.path, f.split), f.blob) for f in version.files.select_related("blob")
    )
    return Snapshot(
        repo_type="dataset",
        artifact=version.dataset,
        version=version,
        commit=dataset_commit_id(version),
        committed_at=version.created_at,
        files={path: RepoFile(path, blob) for path, blob in entries},
    )


# Listings ---------------------------------------------------------------------------------------------


def folder_oid(snapshot: Snapshot, folder: str) -> str:
    """A stable id for a folder: its entries' paths and contents, hashed (as a git tree id is)."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"tree\0{folder}\0".encode())
    for path, repo_file in snapshot.files.items():
        if path.startswith(f"{folder}/"):
            digest.update(f"{path}\0{repo_file.blob.sha256}\n".encode())
    return digest.hexdigest()


def file_entry(snapshot: Snapshot, repo_file: RepoFile, *, expand: bool = False) -> dict:
    entry = {"type": "file", "oid": repo_file.oid, "size": repo_file.size, "path": repo_file.path}
    lfs = repo_file.lfs_info()
    if lfs is not None:
        entry["lfs"] = lfs
    if expand:
        entry["lastCommit"] = snapshot.last_commit()
    return entry


def folder_entry(snapshot: Snapshot, folder: str, *, expand: bool = False) -> dict:
    entry = {"type": "directory", "oid": folder_oid(snapshot, folder), "size": 0, "path": folder}
    if expand:
        entry["lastCommit"] = snapshot.last_commit()
    return entry


def tree_entries(
    snapshot: Snapshot, folder: str = "", *, recursive: bool = False, expand: bool = False
) -> list:
    """The entries under a folder ("" for the root) as the tree endpoint lists them; KeyError if no folder."""
    folder = folder.strip("/")
    folders = snapshot.folders()
    if folder and folder not in folders:
        raise KeyError(folder)
    prefix = f"{folder}/" if folder else ""

    def wanted(path: str) -> bool:
        if not path.startswith(prefix):
            return False
        return recursive or "/" not in path[len(prefix) :]

    entries = [folder_entry(snapshot, name, expand=expand) for name in sorted(folders) if wanted(name)]
    entries += [file_entry(snapshot, f, expand=expand) for path, f in snapshot.files.items() if wanted(path)]
    return entries


def paths_info(snapshot: Snapshot, paths: Iterable[str], *, expand: bool = False) -> list:
    """Entries for the paths that exist at the commit (files or folders), in the order asked."""
    folders = snapshot.folders()
    entries = []
    for path in dict.fromkeys(p.strip("/") for p in paths):
        if path in snapshot.files:
            entries.append(file_entry(snapshot, snapshot.files[path], expand=expand))
        elif path in folders:
            entries.append(folder_entry(snapshot, path, expand=expand))
    return entries


def sibling(repo_file: RepoFile, *, with_blobs: bool) -> dict:
    entry: dict = {"rfilename": repo_file.path}
    if with_blobs:
        entry["size"] = repo_file.size
        entry["blobId"] = repo_file.oid
        lfs = repo_file.lfs_info()
        if lfs is not None:
            entry["lfs"] = {"sha256": lfs["oid"], "size": lfs["size"], "pointerSize": lfs["pointerSize"]}
    return entry


# Repository information ----------------------------------------------------------------------------------


def gated(artifact: RegisteredModel | Dataset) -> str | bool:
    """ "manual" when the artifact's files need the owner's approval (its usage policy refuses strangers)."""
    return "manual" if permissions.use_refusal(AnonymousUser(), artifact) else False


def hub_license_id(license: str) -> str:
    """The Hub writes licence ids in lower case (apache-2.0, cc-by-4.0); LicenseRef-… stays "other"."""
    return "other" if license.startswith("LicenseRef-") else license.lower()


def _model_type(snapshot: Snapshot) -> str | None:
    """The config's model_type (bert, roberta…), read once per config content."""
    config = snapshot.files.get("config.json")
    if config is None or config.size > 1024 * 1024:
        return None
    key = f"hf:model-type:{config.blob.sha256}"
    model_type = cache.get(key)
    if model_type is None:
        try:
            model_type = str(json.loads(blobs.read_verified(config.blob)).get("model_type") or "")
        except (ValueError, AttributeError):
            model_type = ""
        cache.set(key, model_type, timeout=None)
    return model_type or None


def model_card_data(model: RegisteredModel, version: ModelVersion | None) -> dict:
    data: dict = {
        "license": hub_license_id(model.license),
        "library_name": LIBRARY_NAME,
        "pipeline_tag": model.task,
    }
    if model.license.startswith("LicenseRef-"):
        data["license_name"] = model.license.removeprefix("LicenseRef-").lower()
    if version is not None and version.base_version_id:
        data["base_model"] = version.base_version.model.full_name
    if version is not None and version.dataset_version_id:
        data["datasets"] = [version.dataset_version.dataset.full_name]
    return data


def model_tags(model: RegisteredModel, version: ModelVersion | None, model_type: str | None) -> list[str]:
    tags = [LIBRARY_NAME, "safetensors"]
    if model_type:
        tags.append(model_type)
    tags += [model.task, f"license:{hub_license_id(model.license)}"]
    if version is not None and version.base_version_id:
        tags.append(f"base_model:{version.base_version.model.full_name}")
    if version is not None and version.dataset_version_id:
        tags.append(f"dataset:{version.dataset_version.dataset.full_name}")
    return tags


def model_info(model: RegisteredModel, snapshot: Snapshot | None, *, with_blobs: bool = False) -> dict:
    """What GET /api/models/{repo_id}[/revision/{revision}] answers (``snapshot`` None: nothing published)."""
    version = snapshot.version if snapshot else None
    model_type = _model_type(snapshot) if snapshot else None
    files = list(snapshot.files.values()) if snapshot else []
    info = {
        "_id": f"agora-model-{model.pk}",
        "id": model.full_name,
        "modelId": model.full_name,
        "author": model.organization.slug,
        "sha": snapshot.commit if snapshot else None,
        "createdAt": iso(model.created_at),
        "lastModified": iso(snapshot.committed_at if snapshot else model.updated_at),
        "private": model.visibility != Visibility.PUBLIC,
        "gated": gated(model),
        "disabled": False,
        "downloads": download_count(model, since=timezone.now() - DOWNLOADS_WINDOW),
        "downloadsAllTime": download_count(model),
        "likes": 0,
        "library_name": LIBRARY_NAME,
        "pipeline_tag": model.task,
        "tags": model_tags(model, version, model_type),
        "cardData": model_card_data(model, version),
        "config": {"architectures": [version.architecture], "model_type": model_type} if version else {},
        "transformersInfo": {
            "auto_model": "AutoModelForSequenceClassification",
            "pipeline_tag": model.task,
            "processor": "AutoTokenizer",
        },
        "siblings": [sibling(f, with_blobs=with_blobs) for f in files],
        "spaces": [],
        "usedStorage": sum(f.size for f in files),
    }
    if version is not None and version.tensor_summary:
        info["safetensors"] = {
            "parameters": {dtype: row["parameters"] for dtype, row in version.tensor_summary.items()},
            "total": version.num_parameters or 0,
        }
    return info


def dataset_card_data(dataset: Dataset, snapshot: Snapshot | None) -> dict:
    data: dict = {"license": hub_license_id(dataset.license), "task_categories": ["text-classification"]}
    if snapshot is not None:
        split_files = [
            {"split": f.split, "path": f.path}
            for f in snapshot.version.files.exclude(split=Split.SOURCE).order_by("pk")
        ]
        if split_files:
            # Tells the datasets library which file holds which split.
            data["configs"] = [{"config_name": "default", "data_files": split_files}]
    return data


def dataset_info(dataset: Dataset, snapshot: Snapshot | None, *, with_blobs: bool = False) -> dict:
    files = list(snapshot.files.values()) if snapshot else []
    return {
        "_id": f"agora-dataset-{dataset.pk}",
        "id": dataset.full_name,
        "author": dataset.organization.slug,
        "sha": snapshot.commit if snapshot else None,
        "createdAt": iso(dataset.created_at),
        "lastModified": iso(snapshot.committed_at if snapshot else dataset.updated_at),
        "private": dataset.visibility != Visibility.PUBLIC,
        "gated": gated(dataset),
        "disabled": False,
        "downloads": Download.objects.filter(
            dataset=dataset, at__gte=timezone.now() - DOWNLOADS_WINDOW
        ).count(),
        "likes": 0,
        "description": dataset.description,
        "tags": ["task_categories:text-classification", f"license:{hub_license_id(dataset.license)}"],
        "cardData": dataset_card_data(dataset, snapshot),
        "siblings": [sibling(f, with_blobs=with_blobs) for f in files],
        "usedStorage": sum(f.size for f in files),
    }


# Downloads -------------------------------------------------------------------------------------------


def is_query_file(path: str) -> bool:
    return path in QUERY_FILES


def record_download(user: permissions.Viewer, artifact: RegisteredModel | Dataset, path: str) -> None:
    """Count a use; one by someone outside the owner (as the token narrows it) is cross-organization."""
    kind = "model" if isinstance(artifact, RegisteredModel) else "dataset"
    Download.objects.create(
        user=user if user.is_authenticated else None,
        path=path,
        cross_organization=permissions.role_in(user, artifact.organization) is None,
        **{kind: artifact},
    )


def download_count(model: RegisteredModel, since: datetime | None = None) -> int:
    """Downloads of the model as the Hub counts them: fetches of its config-like files."""
    downloads = Download.objects.filter(model=model, path__in=QUERY_FILES)
    if since is not None:
        downloads = downloads.filter(at__gte=since)
    return downloads.count()
