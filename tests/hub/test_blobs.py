"""Blob storage: content-addressed, stored once, never overwritten, verified on every read."""

from __future__ import annotations

import hashlib
import os
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from hub.models import Blob
from hub.services import blobs
from hub.services.blobs import BlobIntegrityError


def stored_path(blob: Blob):
    return blobs.blob_storage().path(blob.storage_key)


def test_identical_content_is_stored_once(db):
    first = blobs.store_bytes(b"same bytes")
    second = blobs.store_chunks([b"same ", b"bytes"])
    assert first == second and Blob.objects.count() == 1
    assert first.sha256 == hashlib.sha256(b"same bytes").hexdigest()
    assert first.storage_key == f"sha256/{first.sha256[:2]}/{first.sha256[2:4]}/{first.sha256}"
    assert blobs.read_verified(first) == b"same bytes"


def test_nothing_is_left_in_the_incoming_folder(db):
    blobs.store_bytes(b"a")
    blobs.store_path(__import__("pathlib").Path(__file__))
    assert list(blobs.incoming_dir().iterdir()) == []


def test_an_existing_key_with_other_bytes_is_detected_and_not_replaced(db):
    blob = blobs.store_bytes(b"original")
    with open(stored_path(blob), "wb") as handle:
        handle.write(b"tampered")
    with pytest.raises(BlobIntegrityError, match="already exists"):
        blobs.store_bytes(b"original")
    with open(stored_path(blob), "rb") as handle:
        assert handle.read() == b"tampered"


def test_adopting_a_file_links_it_without_a_copy(db, tmp_path):
    source = blobs.incoming_dir() / "handed-over"
    source.write_bytes(b"weights" * 1000)
    content = blobs.adopt_path(source, hashlib.sha256(source.read_bytes()).hexdigest())
    blob = blobs.record(content)
    assert os.path.samefile(source, stored_path(blob))
    source.unlink()
    assert blobs.read_verified(blob) == b"weights" * 1000


def test_a_tampered_blob_fails_on_read(db):
    blob = blobs.store_bytes(b"x" * 100)
    with open(stored_path(blob), "r+b") as handle:
        handle.write(b"y")
    with pytest.raises(BlobIntegrityError, match="corrupted"):
        blobs.read_verified(blob)


def test_a_large_tampered_blob_is_never_yielded_whole(db):
    data = os.urandom(3 * blobs.CHUNK_SIZE + 10)
    blob = blobs.store_bytes(data)
    with open(stored_path(blob), "r+b") as handle:
        handle.seek(5)
        handle.write(b"!")
    received = []
    with pytest.raises(BlobIntegrityError):
        for chunk in blobs.iter_verified(blob):
            received.append(chunk)
    assert 0 < sum(map(len, received)) < len(data)


def test_a_large_blob_reads_back_whole_and_a_tampered_last_byte_is_caught(db):
    data = os.urandom(3 * blobs.CHUNK_SIZE + 10)
    blob = blobs.store_bytes(data)
    assert blobs.read_verified(blob) == data
    with open(stored_path(blob), "r+b") as handle:
        handle.seek(len(data) - 1)
        handle.write(bytes([data[-1] ^ 1]))
    received = []
    with pytest.raises(BlobIntegrityError):
        for chunk in blobs.iter_verified(blob):
            received.append(chunk)
    assert b"".join(received) == data[: 3 * blobs.CHUNK_SIZE]  # all but the last chunk


def test_a_reader_stopping_early_leaves_no_hashing_thread(db):
    import threading

    blob = blobs.store_bytes(os.urandom(4 * blobs.CHUNK_SIZE))
    before = threading.active_count()
    chunks = blobs.iter_verified(blob)
    next(chunks)
    next(chunks)
    chunks.close()  # as a server does when the client goes away mid-download
    assert threading.active_count() == before


def test_the_download_view_does_not_serve_a_tampered_file(
    owner, organization, api_client_for, small_checkpoint
):
    from hub.models import ModelFile
    from hub.services.models import import_checkpoint

    import_checkpoint(user=owner, organization=organization, slug="tiny", directory=small_checkpoint,
                      license="Apache-2.0")  # fmt: skip
    client = api_client_for(owner)
    config = ModelFile.objects.select_related("blob").get(path="config.json")
    weights = ModelFile.objects.select_related("blob").get(path="model.safetensors")
    assert weights.blob.size > blobs.CHUNK_SIZE
    for model_file in (config, weights):
        response = client.get(f"/files/models/{model_file.pk}/")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == blobs.read_verified(model_file.blob)
        with open(stored_path(model_file.blob), "r+b") as handle:
            handle.write(b"#")
        response = client.get(f"/files/models/{model_file.pk}/")
        if model_file is config:
            # A one-chunk file is checked before the response starts: an explicit error, no bytes.
            assert response.status_code == 500
            assert b"integrity check" in response.content
            continue
        received = []
        # Streaming stops with the error before the last chunk: the client sees a body shorter
        # than Content-Length (a broken download), never the complete wrong file.
        with pytest.raises(BlobIntegrityError):
            for chunk in response.streaming_content:
                received.append(chunk)
        assert sum(map(len, received)) < int(response["Content-Length"])


def test_a_large_stream_is_stored_in_constant_memory(db):
    size = 200 * 1024 * 1024
    piece = os.urandom(blobs.CHUNK_SIZE)

    def generate():
        for _ in range(size // len(piece)):
            yield piece

    tracemalloc.start()
    try:
        blob = blobs.store_chunks(generate())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert blob.size == size
    assert peak < 8 * 1024 * 1024


def test_uploaded_files_are_hashed_on_the_way_in(rf, settings):
    from hub.upload_handlers import HashingFileUploadHandler

    request = rf.post("/", {"file": SimpleUploadedFile("w.safetensors", b"abc" * 100_000)})
    request.upload_handlers = [HashingFileUploadHandler(request)]
    upload = request.FILES["file"]
    assert upload.sha256 == hashlib.sha256(b"abc" * 100_000).hexdigest()
    assert os.path.dirname(upload.temporary_file_path()) == str(blobs.incoming_dir())
