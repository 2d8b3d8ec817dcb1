"""manage.py verify_blobs: every stored blob is re-hashed; damage is reported with the versions it hits."""

from __future__ import annotations

import io
import json
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from hub.models import Blob, ModelFile, ModelVersion, RegisteredModel
from hub.services import blobs
from tests.factories import OrganizationFactory

WEIGHTS = os.urandom(3 * blobs.CHUNK_SIZE + 17)  # several chunks, so streaming is exercised


def _version(organization, slug: str, files: dict[str, bytes], status=ModelVersion.Status.PUBLISHED):
    model, _ = RegisteredModel.objects.get_or_create(
        organization=organization, slug=slug, defaults={"name": slug, "license": "MIT"}
    )
    version = ModelVersion.objects.create(model=model, number=model.versions.count() + 1, origin="upload")
    for path, data in files.items():
        ModelFile.objects.create(version=version, path=path, blob=blobs.store_bytes(data))
    # Published after its files were attached: a frozen version refuses new files.
    ModelVersion.objects.filter(pk=version.pk).update(status=status)
    return version


@pytest.fixture
def store(organization):
    """acme/tiny v1 (published), acme/draft v1 (a draft), globex/other v1 (published)."""
    return {
        "tiny": _version(organization, "tiny", {"config.json": b'{"a": 1}', "model.safetensors": WEIGHTS}),
        "draft": _version(organization, "draft", {"notes.txt": b"draft only"}, ModelVersion.Status.DRAFT),
        "other": _version(OrganizationFactory(slug="globex"), "other", {"config.json": b'{"b": 2}'}),
    }


def verify(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_blobs", *args, stdout=out, stderr=err)
    except CommandError as error:
        return error.returncode, out.getvalue(), err.getvalue() + str(error)
    return 0, out.getvalue(), err.getvalue()


def stored_path(data: bytes) -> str:
    import hashlib

    return blobs.blob_storage().path(Blob.objects.get(sha256=hashlib.sha256(data).hexdigest()).storage_key)


def test_a_clean_store_passes(store):
    code, out, err = verify()
    assert code == 0, out
    # The published versions only: acme/tiny's two files and globex/other's config.
    assert f"checked 3 blob(s), {8 + len(WEIGHTS) + 8} bytes: 0 missing, 0 corrupted" in out
    assert "verifying" in err  # the progress bar goes to stderr
    assert "checked 4 blob(s)" in verify("--all")[1]


def test_a_flipped_byte_is_reported_with_its_version(store):
    path = stored_path(WEIGHTS)
    with open(path, "r+b") as handle:
        handle.seek(blobs.CHUNK_SIZE + 5)
        byte = handle.read(1)
        handle.seek(blobs.CHUNK_SIZE + 5)
        handle.write(bytes([byte[0] ^ 0x01]))
    code, out, err = verify()
    assert code == 1
    assert "CORRUPTED" in out and "the stored bytes hash to" in out
    assert "acme/tiny@v1 (published): model.safetensors" in out
    assert "0 missing, 1 corrupted" in out and "1 corrupted blob(s)" in err


def test_a_truncated_file_is_reported(store):
    path = stored_path(WEIGHTS)
    os.truncate(path, blobs.CHUNK_SIZE)
    code, out, _ = verify("--json")
    assert code == 1
    report = json.loads(out)
    assert report["missing"] == [] and len(report["corrupted"]) == 1
    corrupted = report["corrupted"][0]
    assert corrupted["detail"] == f"{blobs.CHUNK_SIZE} bytes stored, {len(WEIGHTS)} expected"
    assert corrupted["versions"] == ["acme/tiny@v1 (published): model.safetensors"]
    assert report["checked"] == 3


def test_a_missing_file_is_reported(store):
    os.remove(stored_path(b'{"b": 2}'))
    code, out, _ = verify()
    assert code == 1
    assert "MISSING" in out and "globex/other@v1 (published): config.json" in out
    assert "1 missing, 0 corrupted" in out


def test_the_scope_follows_the_options(store):
    os.remove(stored_path(b"draft only"))  # a draft's blob: outside the default scope
    assert verify()[0] == 0
    code, out, _ = verify("--all")
    assert code == 1 and "acme/draft@v1 (draft): notes.txt" in out
    os.remove(stored_path(b'{"b": 2}'))
    assert verify("--organization", "acme")[0] == 0
    assert "checked 2 blob(s)" in verify("--model", "acme/tiny")[1]
    assert "checked 2 blob(s)" in verify("--organization", "acme", "--model", "tiny")[1]
    code, out, _ = verify("--organization", "globex")
    assert code == 1 and "checked 1 blob(s)" in out


def test_memory_stays_constant_while_hashing(store):
    import tracemalloc

    blob = Blob.objects.get(size=len(WEIGHTS))
    tracemalloc.start()
    try:
        assert blobs.check_blob(blob) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * blobs.CHUNK_SIZE + 256 * 1024  # one chunk read at a time, never the whole file
