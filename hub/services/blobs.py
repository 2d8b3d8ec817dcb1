"""Content-addressed blob storage on top of Django's storage API.

Keys are made here from the SHA-256 of the content, never from user input; the hash is computed
while the upload is copied (constant memory), identical content is stored once, and a stored blob
is never overwritten: an existing key is verified instead, and a mismatch raises.

On a local directory (``FileSystemStorage``) a blob is written to a temporary file inside the blob
root and published with ``os.link``, which fails rather than replace an existing key, so a blob
costs one copy; a file the caller hands over (``adopt_path``) is linked without any copy. Other
storages (S3) get the content through ``Storage.save``.

Storing is two steps so that callers can keep Blob rows inside their own transaction:
``put_*`` writes the content (no database row), ``record`` creates or finds the Blob row.

Reads are verified: ``iter_verified`` re-hashes what it yields. A local blob whose bytes were hashed
as they were stored, or read whole and found intact, is remembered as verified (in the cache, for
AGORA_BLOB_REVERIFY_SECONDS) together with its file's identity; while the file is unchanged,
``open_verified_file`` hands it out for serving without hashing it again. ``verify_blobs`` checks
the store at rest.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.db.models import Q, QuerySet

from hub.models import Blob, DatasetFile, ModelFile, ModelVersion

CHUNK_SIZE = 1024 * 1024
# Inside the blob root, so that publishing a finished file is a link on the same filesystem.
INCOMING_DIR = ".incoming"


# A full volume, or a spent quota: the request that wrote is answered 507, never 500.
STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
STORAGE_FULL_MESSAGE = (
    "The server's storage is full: nothing of this upload was stored. Try again later, or tell the "
    "administrators."
)


def is_storage_full(error: BaseException | None) -> bool:
    """Whether an error, or one it was raised from, is a write refused for want of space."""
    for _ in range(10):  # a chain of causes is short; a cycle must not loop for ever
        if error is None:
            return False
        if isinstance(error, OSError) and error.errno in STORAGE_FULL_ERRNOS:
            return True
        error = error.__cause__ or error.__context__
    return False


class BlobIntegrityError(Exception):
    """The stored bytes no longer match their address."""


@dataclass(frozen=True)
class Content:
    """Content written to the blob storage, not yet recorded as a Blob row."""

    sha256: str
    size: int

    @property
    def storage_key(self) -> str:
        return Blob(sha256=self.sha256, size=self.size).storage_key


def blob_storage() -> Storage:
    return storages["blobs"]


def _local_root(storage: Storage) -> Path | None:
    return Path(storage.location) if isinstance(storage, FileSystemStorage) else None


def incoming_dir() -> Path:
    """A scratch folder for uploads on the same filesystem as the blobs when they are local."""
    root = _local_root(blob_storage())
    directory = root / INCOMING_DIR if root is not None else Path(settings.AGORA_WORK_DIR) / "incoming"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# Remembered verifications: blob SHA-256 → fingerprint of the file that was found intact.
VERIFIED_KEY = "agora:blob-verified:{}"
# Filesystems stamp a write's mtime from a coarse clock (a kernel tick, at most 10 ms; whole seconds
# on some), so a write in the same tick as the last one may leave mtime as it was. A file is
# fingerprinted only once its mtime is older than a tick (twice, for a margin): any later write then
# moves it.
SETTLED_NS = 20_000_000
SETTLED_WHOLE_SECONDS_NS = 2_000_000_000
# A file this large just stored is worth waiting for (at most SETTLED_NS) rather than hashing it
# again on its first download (20 ms of SHA-256 covers about 30 MB).
WAIT_TO_SETTLE_BYTES = 64 * 1024 * 1024


def _fingerprint(stat: os.stat_result) -> list[int] | None:
    """The file's identity (device, inode, size, mtime), or None while a write could go unnoticed."""
    age = time.time_ns() - stat.st_mtime_ns
    settled = SETTLED_WHOLE_SECONDS_NS if stat.st_mtime_ns % 1_000_000_000 == 0 else SETTLED_NS
    if age < settled:
        return None
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _stored_fingerprint(path: Path) -> list[int] | None:
    """The fingerprint of a file just stored, waiting the few milliseconds it needs when it is large."""
    if settings.AGORA_BLOB_REVERIFY_SECONDS <= 0:
        return None
    stat = path.stat()
    fingerprint = _fingerprint(stat)
    wait = SETTLED_NS - (time.time_ns() - stat.st_mtime_ns)
    if fingerprint is None and stat.st_size >= WAIT_TO_SETTLE_BYTES and 0 < wait <= SETTLED_NS:
        time.sleep(wait / 1e9)
        fingerprint = _fingerprint(path.stat())
    return fingerprint


def _remember_verified(sha256: str, fingerprint: list[int] | None) -> None:
    seconds = settings.AGORA_BLOB_REVERIFY_SECONDS
    if fingerprint is not None and seconds > 0:
        cache.set(VERIFIED_KEY.format(sha256), fingerprint, timeout=seconds)


def forget_verified(sha256: str) -> None:
    """The next read of this blob verifies it again."""
    cache.delete(VERIFIED_KEY.format(sha256))


def _handle_fingerprint(handle) -> list[int] | None:
    """The fingerprint of an open local file (None for other storages)."""
    try:
        return _fingerprint(os.fstat(handle.fileno()))
    except (AttributeError, OSError, ValueError):  # no file descriptor: not a local file
        return None


def open_verified_file(blob: Blob) -> BinaryIO | None:
    """The blob's local file, open, when its bytes were verified within AGORA_BLOB_REVERIFY_SECONDS
    and the file is unchanged since (same device, inode, size and mtime): it may be served as it is.

    None when it must be read through ``iter_verified`` (never verified, expired, changed, or not on
    a local disk). Tampering that keeps all four (bit rot, or a write that restores mtime) is found
    by ``verify_blobs`` and, at the latest, by the next download after the time-to-live.
    """
    storage = blob_storage()
    if _local_root(storage) is None or settings.AGORA_BLOB_REVERIFY_SECONDS <= 0:
        return None
    remembered = cache.get(VERIFIED_KEY.format(blob.sha256))
    if remembered is None:
        return None
    try:
        handle = open(storage.path(blob.storage_key), "rb")  # noqa: SIM115 (the response closes it)
    except OSError:
        return None
    # The open file itself is compared, so a file replaced after this check is not the one served.
    stat = os.fstat(handle.fileno())
    if stat.st_size != blob.size or _fingerprint(stat) != remembered:
        handle.close()
        return None
    return handle


def record(content: Content) -> Blob:
    blob, _ = Blob.objects.get_or_create(sha256=content.sha256, defaults={"size": content.size})
    return blob


def _hash_stored(storage: Storage, key: str) -> str:
    digest = hashlib.sha256()
    with storage.open(key, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_existing(storage: Storage, content: Content) -> None:
    """An existing key must hold exactly this content; it is never replaced."""
    key = content.storage_key
    if storage.size(key) != content.size or _hash_stored(storage, key) != content.sha256:
        forget_verified(content.sha256)
        raise BlobIntegrityError(f"blob {content.sha256} already exists in storage with other bytes")


def _publish_local(storage: FileSystemStorage, path: Path, content: Content) -> None:
    """Link a finished file to its key; an existing key is verified, never overwritten."""
    target = Path(storage.path(content.storage_key))
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path, storage.file_permissions_mode or 0o644)
    try:
        os.link(path, target)
    except FileExistsError:
        fingerprint = _fingerprint(target.stat())
        _check_existing(storage, content)
    else:
        fingerprint = _stored_fingerprint(target)  # hashed while it was written
    _remember_verified(content.sha256, fingerprint)


def _put_spooled(storage: Storage, spool: BinaryIO, content: Content) -> None:
    key = content.storage_key
    if storage.exists(key):
        _check_existing(storage, content)
        return
    spool.seek(0)
    saved_as = storage.save(key, File(spool))
    if saved_as != key:
        # Another writer stored the same content between our check and our save.
        storage.delete(saved_as)
        _check_existing(storage, content)


def put_chunks(chunks: Iterable[bytes]) -> Content:
    """Write a stream of bytes to the storage (one copy, hashed on the way); no Blob row."""
    storage = blob_storage()
    digest = hashlib.sha256()
    size = 0
    local = _local_root(storage) is not None
    directory = incoming_dir()
    with tempfile.NamedTemporaryFile(dir=directory, prefix="blob-", delete=False) as spool:
        try:
            for chunk in chunks:
                digest.update(chunk)
                spool.write(chunk)
                size += len(chunk)
            spool.flush()
            content = Content(sha256=digest.hexdigest(), size=size)
            if local:
                _publish_local(storage, Path(spool.name), content)
            else:
                _put_spooled(storage, spool, content)
        finally:
            os.unlink(spool.name)
    return content


def _hash_path(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def adopt_path(path: Path, sha256: str | None = None) -> Content:
    """Store a file the caller hands over and will delete; it must not change afterwards.

    On local storage it is linked into place without a copy (or copied once when it lies on another
    filesystem). ``sha256`` is a digest computed while the file was written; without it the file is
    read once to hash it.
    """
    storage = blob_storage()
    content = Content(sha256=sha256 or _hash_path(path), size=path.stat().st_size)
    if _local_root(storage) is None:
        with open(path, "rb") as handle:
            _put_spooled(storage, handle, content)
        return content
    try:
        _publish_local(storage, path, content)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        return put_path(path)
    return content


def put_path(path: Path) -> Content:
    with open(path, "rb") as handle:
        return put_chunks(iter(lambda: handle.read(CHUNK_SIZE), b""))


def store_chunks(chunks: Iterable[bytes]) -> Blob:
    """Store a stream of bytes and return its Blob, hashing while copying it to storage."""
    return record(put_chunks(chunks))


def store_fileobj(fileobj: BinaryIO) -> Blob:
    return store_chunks(iter(lambda: fileobj.read(CHUNK_SIZE), b""))


def store_bytes(data: bytes) -> Blob:
    return store_chunks([data])


def store_path(path: Path) -> Blob:
    return record(put_path(path))


def iter_verified(blob: Blob) -> Iterator[bytes]:
    """Yield the blob's bytes; raise BlobIntegrityError if they do not hash to its address.

    The last chunk is held back until the hash is checked, so a reader never receives the whole of
    a corrupted file: a blob of one chunk yields nothing, a larger one arrives truncated.
    """
    digest = hashlib.sha256()
    pending = b""
    # A file of several chunks is hashed in a second thread while the reader sends the chunk before:
    # hashlib releases the GIL, so a download costs about the longer of the two, not their sum.
    hasher = ThreadPoolExecutor(max_workers=1) if blob.size > CHUNK_SIZE else None
    hashed: Future | None = None
    try:
        with blob_storage().open(blob.storage_key, "rb") as handle:
            fingerprint = _handle_fingerprint(handle)  # before reading: a later write shows as a change
            for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
                if hasher is None:
                    digest.update(chunk)
                else:
                    if hashed is not None:
                        hashed.result()  # at most one chunk waits to be hashed: memory stays constant
                    hashed = hasher.submit(digest.update, chunk)
                if pending:
                    yield pending
                pending = chunk
        if hashed is not None:
            hashed.result()
    finally:
        if hasher is not None:
            hasher.shutdown(wait=True)  # also when the reader stops early (a client gone mid-download)
    if digest.hexdigest() != blob.sha256:
        forget_verified(blob.sha256)
        raise BlobIntegrityError(f"blob {blob.sha256} is corrupted in storage")
    _remember_verified(blob.sha256, fingerprint)
    if pending:
        yield pending


def read_verified(blob: Blob) -> bytes:
    return b"".join(iter_verified(blob))


def copy_to_path(blob: Blob, destination: Path) -> None:
    """Write a verified copy of the blob to a local path (workers materialize checkpoints this way)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with open(partial, "wb") as out:
        for chunk in iter_verified(blob):
            out.write(chunk)
    shutil.move(partial, destination)


# Verifying the store: every blob in scope is read back and re-hashed, one chunk at a time.


@dataclass(frozen=True)
class BlobProblem:
    """A blob whose stored bytes are gone or no longer hash to its address, and who holds it."""

    sha256: str
    size: int
    problem: str  # "missing" or "corrupted"
    detail: str
    versions: tuple[str, ...]  # e.g. "acme/tiny v1: config.json"


@dataclass
class Verification:
    checked: int = 0
    bytes: int = 0
    problems: list[BlobProblem] = field(default_factory=list)

    @property
    def missing(self) -> list[BlobProblem]:
        return [p for p in self.problems if p.problem == "missing"]

    @property
    def corrupted(self) -> list[BlobProblem]:
        return [p for p in self.problems if p.problem == "corrupted"]

    @property
    def ok(self) -> bool:
        return not self.problems


def blobs_to_verify(*, all_blobs: bool = False, organization: str = "", model: str = "") -> QuerySet[Blob]:
    """The blobs of published model versions (``all_blobs``: of every version and dataset, or all).

    ``organization`` (a slug) and ``model`` (``org/slug``, or a slug within ``organization``) narrow it.
    """
    if all_blobs and not organization and not model:
        return Blob.objects.order_by("sha256")
    model_files = ModelFile.objects.all()
    if not all_blobs:
        model_files = model_files.filter(version__status=ModelVersion.Status.PUBLISHED)
    if organization:
        model_files = model_files.filter(version__model__organization__slug=organization)
    if model:
        org_slug, _, slug = model.rpartition("/")
        model_files = model_files.filter(version__model__slug=slug)
        if org_slug:
            model_files = model_files.filter(version__model__organization__slug=org_slug)
    in_scope = Q(sha256__in=model_files.values("blob_id"))
    if all_blobs and not model:
        dataset_files = DatasetFile.objects.filter(version__dataset__organization__slug=organization)
        in_scope |= Q(sha256__in=dataset_files.values("blob_id"))
    return Blob.objects.filter(in_scope).order_by("sha256")


def _holders(sha256: str) -> tuple[str, ...]:
    """Every model and dataset version with a file stored in this blob."""
    model_files = ModelFile.objects.filter(blob_id=sha256).select_related("version__model__organization")
    dataset_files = DatasetFile.objects.filter(blob_id=sha256).select_related(
        "version__dataset__organization"
    )
    holders = [f"{f.version} ({f.version.status}): {f.path}" for f in model_files]
    holders += [f"{f.version} (dataset): {f.path}" for f in dataset_files]
    return tuple(sorted(holders))


def check_blob(blob: Blob, on_bytes: Callable[[int], None] | None = None) -> tuple[str, str] | None:
    """Re-hash one stored blob: None when intact, else ("missing" | "corrupted", detail)."""
    storage = blob_storage()
    digest = hashlib.sha256()
    size = 0
    try:
        with storage.open(blob.storage_key, "rb") as handle:
            fingerprint = _handle_fingerprint(handle)
            for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
                digest.update(chunk)
                size += len(chunk)
                if on_bytes:
                    on_bytes(len(chunk))
    except FileNotFoundError:
        forget_verified(blob.sha256)
        return "missing", f"no file at {blob.storage_key}"
    if size != blob.size:
        forget_verified(blob.sha256)
        return "corrupted", f"{size} bytes stored, {blob.size} expected"
    if digest.hexdigest() != blob.sha256:
        forget_verified(blob.sha256)
        return "corrupted", f"the stored bytes hash to {digest.hexdigest()}"
    _remember_verified(blob.sha256, fingerprint)
    return None


def verify_blobs(blobs: Iterable[Blob], on_bytes: Callable[[int], None] | None = None) -> Verification:
    """Re-hash each blob from storage (constant memory) and list the missing and corrupted ones."""
    result = Verification()
    for blob in blobs:
        outcome = check_blob(blob, on_bytes)
        result.checked += 1
        result.bytes += blob.size
        if outcome is not None:
            problem, detail = outcome
            result.problems.append(
                BlobProblem(blob.sha256, blob.size, problem, detail, _holders(blob.sha256))
            )
    return result
