"""Content-addressed blob storage on top of Django's storage API.

Keys are made here from the SHA-256 of the content, never from user input; the hash is computed
while the upload is copied (constant memory), identical content is stored once, and a stored blob
is never overwritten.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages

from hub.models import Blob

CHUNK_SIZE = 1024 * 1024


class BlobIntegrityError(Exception):
    """The stored bytes no longer match their address."""


def blob_storage() -> Storage:
    return storages["blobs"]


def store_chunks(chunks: Iterable[bytes]) -> Blob:
    """Store a stream of bytes and return its Blob, hashing while spooling to a temporary file."""
    digest = hashlib.sha256()
    size = 0
    settings.AGORA_WORK_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=settings.AGORA_WORK_DIR) as spool:
        for chunk in chunks:
            digest.update(chunk)
            spool.write(chunk)
            size += len(chunk)
        spool.seek(0)
        sha256 = digest.hexdigest()
        blob = Blob(sha256=sha256, size=size)
        storage = blob_storage()
        if not storage.exists(blob.storage_key):
            saved_as = storage.save(blob.storage_key, File(spool))
            if saved_as != blob.storage_key:
                # Another writer stored the same content between our check and our save.
                storage.delete(saved_as)
    blob, _ = Blob.objects.get_or_create(sha256=sha256, defaults={"size": size})
    return blob


def store_fileobj(fileobj: BinaryIO) -> Blob:
    return store_chunks(iter(lambda: fileobj.read(CHUNK_SIZE), b""))


def store_bytes(data: bytes) -> Blob:
    return store_chunks([data])


def store_path(path: Path) -> Blob:
    with open(path, "rb") as handle:
        return store_fileobj(handle)


def iter_verified(blob: Blob) -> Iterator[bytes]:
    """Yield the blob's bytes; raise BlobIntegrityError at the end if they do not hash to its address."""
    digest = hashlib.sha256()
    with blob_storage().open(blob.storage_key, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
            yield chunk
    if digest.hexdigest() != blob.sha256:
        raise BlobIntegrityError(f"blob {blob.sha256} is corrupted in storage")


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
