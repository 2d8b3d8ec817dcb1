"""Downloads of a blob verified before and unchanged since are sent as they are (sendfile); any change
to its file on disk makes the next download verify it again, and refuse it if it is corrupted."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone

from hub.models import Download, ModelFile, ModelVersion, Visibility
from hub.services import blobs
from hub.services.models import import_checkpoint


def stored_path(blob) -> str:
    return blobs.blob_storage().path(blob.storage_key)


def age(path, seconds: float = 10.0) -> int:
    """Date the file's mtime back, as if it had been written a while ago; the new mtime in ns."""
    mtime = time.time_ns() - int(seconds * 1e9) + 123  # not a whole second: a fine-grained clock
    os.utime(path, ns=(mtime, mtime))
    return mtime


@pytest.fixture
def model(owner, organization, small_checkpoint):
    version = import_checkpoint(
        user=owner, organization=organization, slug="tiny", directory=small_checkpoint, license="Apache-2.0",
        visibility=Visibility.PUBLIC,
    )  # fmt: skip
    for model_file in version.files.select_related("blob"):
        age(stored_path(model_file.blob))
    return version


def get_file(client, path: str):
    model_file = ModelFile.objects.select_related("blob").get(path=path)
    return client.get(f"/files/models/{model_file.pk}/"), model_file.blob


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("path", ["config.json", "model.safetensors"])
def test_a_file_verified_once_is_then_sent_as_it_is(model, owner, api_client_for, path):
    client = api_client_for(owner)
    first, blob = get_file(client, path)
    assert not isinstance(first, FileResponse)  # streamed and hashed
    expected = body(first)
    assert hashlib.sha256(expected).hexdigest() == blob.sha256
    second, _ = get_file(client, path)
    assert isinstance(second, FileResponse) and second.block_size == blobs.CHUNK_SIZE
    assert body(second) == expected
    for response in (first, second):
        assert response["Content-Length"] == str(blob.size)
        assert response["ETag"] == f'"{blob.sha256}"'
        assert response["Content-Disposition"] == f'attachment; filename="{path}"'
    assert Download.objects.filter(path=path).count() == 2


def flip_and_touch(path, mtime):
    with open(path, "r+b") as handle:
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([first[0] ^ 1]))


def truncate(path, mtime):
    os.truncate(path, os.path.getsize(path) - 1)
    os.utime(path, ns=(mtime, mtime))  # even with its old mtime


def replace(path, mtime):
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    data[0] ^= 1
    with open(f"{path}.new", "wb") as out:
        out.write(data)
    os.utime(f"{path}.new", ns=(mtime, mtime))  # same size and mtime, another inode
    os.replace(f"{path}.new", path)


@pytest.mark.parametrize("tamper", [flip_and_touch, truncate, replace])
def test_a_file_changed_on_disk_is_verified_again_and_refused(model, owner, api_client_for, tamper):
    client = api_client_for(owner)
    body(get_file(client, "config.json")[0])
    response, blob = get_file(client, "config.json")
    assert isinstance(response, FileResponse)
    body(response)
    tamper(stored_path(blob), os.stat(stored_path(blob)).st_mtime_ns)
    refused, _ = get_file(client, "config.json")
    assert refused.status_code == 500 and b"integrity check" in refused.content
    # Refused again: a failed verification is not remembered as a success.
    assert get_file(client, "config.json")[0].status_code == 500


def test_a_large_file_changed_on_disk_is_never_sent_whole(model, owner, api_client_for):
    client = api_client_for(owner)
    body(get_file(client, "model.safetensors")[0])
    _, blob = get_file(client, "model.safetensors")
    flip_and_touch(stored_path(blob), None)
    response, _ = get_file(client, "model.safetensors")
    assert isinstance(response, StreamingHttpResponse) and not isinstance(response, FileResponse)
    received = []
    with pytest.raises(blobs.BlobIntegrityError):
        for chunk in response.streaming_content:
            received.append(chunk)
    assert sum(map(len, received)) < blob.size


def test_verify_blobs_finding_a_change_that_kept_the_file_identity_stops_the_shortcut(
    model, owner, api_client_for
):
    client = api_client_for(owner)
    body(get_file(client, "config.json")[0])
    _, blob = get_file(client, "config.json")
    path = stored_path(blob)
    mtime = os.stat(path).st_mtime_ns
    flip_and_touch(path, mtime)
    os.utime(path, ns=(mtime, mtime))  # bit rot, or a write that restored mtime: the identity is unchanged
    assert blobs.verify_blobs([blob]).corrupted
    assert get_file(client, "config.json")[0].status_code == 500


def test_verification_is_remembered_for_the_configured_time(model, owner, api_client_for, settings):
    settings.AGORA_BLOB_REVERIFY_SECONDS = 1
    client = api_client_for(owner)
    body(get_file(client, "config.json")[0])
    assert isinstance(get_file(client, "config.json")[0], FileResponse)
    time.sleep(1.2)
    assert not isinstance(get_file(client, "config.json")[0], FileResponse)


def test_with_no_time_to_live_every_download_is_hashed(model, owner, api_client_for, settings):
    settings.AGORA_BLOB_REVERIFY_SECONDS = 0
    client = api_client_for(owner)
    for _ in range(3):
        response, _ = get_file(client, "config.json")
        assert not isinstance(response, FileResponse)
        body(response)


def test_a_blob_hashed_as_it_was_stored_needs_no_first_verification(db, tmp_path):
    source = blobs.incoming_dir() / "handed-over"
    source.write_bytes(b"weights" * 1000)
    age(source)
    blob = blobs.record(blobs.adopt_path(source, hashlib.sha256(source.read_bytes()).hexdigest()))
    handle = blobs.open_verified_file(blob)
    assert handle is not None
    with handle:
        assert handle.read() == b"weights" * 1000


def test_a_large_blob_just_stored_is_trusted_at_once(db):
    data = os.urandom(blobs.WAIT_TO_SETTLE_BYTES)
    sha256 = hashlib.sha256(data).hexdigest()  # as an upload hashes it: while it is written
    source = blobs.incoming_dir() / "large"
    source.write_bytes(data)
    os.utime(source, ns=(time.time_ns(), time.time_ns()))  # its last write: this instant
    blob = blobs.record(blobs.adopt_path(source, sha256))
    handle = blobs.open_verified_file(blob)
    assert handle is not None
    handle.close()


def test_a_file_written_a_moment_ago_is_not_trusted_yet(tmp_path):
    # A write in the same clock tick as the last one may leave mtime unchanged: wait for it to settle.
    path = tmp_path / "fresh"
    path.write_bytes(b"x")
    now = time.time_ns()
    for mtime, trusted in [
        (now - 1_000_000, False),  # a millisecond ago
        (now - 1_000_000_000 + 7, True),  # a second ago, fine-grained
        (now - now % 1_000_000_000, False),  # this whole second: a filesystem that counts seconds
        (now - now % 1_000_000_000 - 3_000_000_000, True),
    ]:
        os.utime(path, ns=(mtime, mtime))
        assert (blobs._fingerprint(os.stat(path)) is not None) is trusted, mtime


def test_the_hugging_face_resolve_route_sends_a_verified_file_as_it_is(model, client):
    ModelVersion.objects.filter(pk=model.pk).update(
        status=ModelVersion.Status.PUBLISHED, published_at=timezone.now()
    )
    url = f"/{model.model.full_name}/resolve/main/model.safetensors"
    first = client.get(url)
    assert first.status_code == 200 and not isinstance(first, FileResponse)
    expected = body(first)
    second = client.get(url)
    assert isinstance(second, FileResponse) and body(second) == expected
    for header in ("ETag", "X-Linked-Size", "X-Repo-Commit", "Content-Disposition", "Content-Length"):
        assert second[header] == first[header]
    partial = client.get(url, HTTP_RANGE="bytes=10-19")
    assert partial.status_code == 206 and body(partial) == expected[10:20]

    flip_and_touch(stored_path(model.files.get(path="model.safetensors").blob), None)
    changed = client.get(url)
    assert not isinstance(changed, FileResponse)
    with pytest.raises(blobs.BlobIntegrityError):
        body(changed)
