"""Hostile file names and paths, against every place that takes one: refused with a 400 naming the field,
and nothing written outside the blob storage.

The names are the bypasses seen in model registries' path-traversal advisories: dot-dot with either
slash, percent-encoded once and twice, look-alike unicode separators, URL delimiters, absolute and drive
paths, over-long names, trailing dots and spaces, NUL and newlines.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
import tempfile
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.http.multipartparser import MultiPartParser
from django.utils import timezone

from hub.archives import ArchiveLimits, extract_archive
from hub.models import AccessToken, Blob, Dataset, DatasetVersion, ModelVersion, RegisteredModel
from hub.paths import validate_file_name
from hub.services.tokens import issue_token
from tests.conftest import demo_csv_bytes

# A name no test creates on purpose: any file carrying it is a file that escaped.
MARK = f"agora-escape-{uuid.uuid4().hex[:8]}"

HOSTILE = {
    "dotdot": f"../../{MARK}",
    "dotdot-backslash": f"..\\..\\{MARK}",
    "dotdot-inside": f"a/../../{MARK}",
    "dot-segment": f"./{MARK}",
    "empty-segment": f"a//{MARK}",
    "percent": f"%2e%2e%2f%2e%2e%2f{MARK}",
    "percent-upper": f"..%2F..%2F{MARK}",
    "double-percent": f"%252e%252e%252f{MARK}",
    "overlong-utf8": f"..%c0%af..%c0%af{MARK}",
    "percent-nul": f"{MARK}%00.json",
    "semicolon": f"..;/{MARK}",
    "hash": f"{MARK}#/../../x",
    "question": f"{MARK}?/../x",
    "absolute": "/etc/passwd",
    "absolute-mark": f"/tmp/{MARK}",
    "windows-drive": "C:\\x",
    "windows-drive-slash": f"C:/{MARK}",
    "alternate-stream": f"{MARK}:stream",
    "proc-root": "//proc/self/root/etc/passwd",
    "long-300": "a" * 300,
    "long-5000": "b" * 5000,
    "fullwidth-dots": f"\uff0e\uff0e\uff0f\uff0e\uff0e\uff0f{MARK}",
    "fullwidth-solidus": f"..\uff0f{MARK}",
    "division-slash": f"..\u2215..\u2215{MARK}",
    "fraction-slash": f"..\u2044{MARK}",
    "fullwidth-backslash": f"..\uff3c{MARK}",
    "one-dot-leader": f"\u2024\u2024/{MARK}",
    "trailing-dot": f"{MARK}.json.",
    "trailing-space": f"{MARK}.json ",
    "leading-space": f" {MARK}",
    "dots-only": "...",
    "nul": f"{MARK}\x00.json",
    "newline": f"{MARK}\n.json",
    "carriage-return": f"{MARK}\r.json",
    "tab": f"{MARK}\t.json",
    "right-to-left-override": f"{MARK}\u202enosj.exe",
    "zero-width": "con\u200bfig.json",
    "reserved-device": "CON",
    "reserved-device-extension": "nul.json",
    "quote": f'{MARK}".json',
    "angle": f"{MARK}<x>.json",
    "pipe": f"{MARK}|x",
    "star": f"{MARK}*",
}
SAFE = ["config.json", "1_Pooling/config.json", ".gitattributes", "tokenizer/vocab.txt", "modèle-v1.2.json",
        "a b/c d.txt", "100%.txt", "weights-00001-of-00002.safetensors"]  # fmt: skip


def hostile_cases():
    return pytest.mark.parametrize("name", HOSTILE.values(), ids=HOSTILE.keys())


# What is on disk, and what may appear there.


def files_under(root: Path) -> set[Path]:
    return {Path(folder) / name for folder, _, names in os.walk(root) for name in names}


@pytest.fixture
def no_escape(isolated_storage):
    """Fails the test if a file appeared outside the blob root, or a file named like a payload anywhere."""
    blob_root = isolated_storage / "blobs"
    before = files_under(isolated_storage)
    yield
    appeared = {path for path in files_under(isolated_storage) - before if blob_root not in path.parents}
    assert not appeared, f"files written outside the blob storage: {sorted(appeared)}"
    assert not [path for path in files_under(isolated_storage) if MARK in str(path)]
    temp = Path(tempfile.gettempdir())
    assert not [name for name in os.listdir(temp) if MARK in name]
    assert not [name for name in os.listdir(isolated_storage.parent) if MARK in name]


def stored_nothing():
    return (
        RegisteredModel.objects.count() == 0
        and ModelVersion.objects.count() == 0
        and not Blob.objects.exists()
    )


# The one validator


@hostile_cases()
def test_the_validator_refuses_every_hostile_name(name):
    with pytest.raises(ValueError):
        validate_file_name(name, allow_folders=True)


@pytest.mark.parametrize("name", SAFE)
def test_the_validator_keeps_ordinary_names(name):
    assert validate_file_name(name, allow_folders=True) == name


# Model uploads: the REST API (files with paths, multipart filenames, archives) and the page


def checkpoint_files(directory: Path) -> list[tuple[str, bytes]]:
    return sorted(
        (p.relative_to(directory).as_posix(), p.read_bytes()) for p in directory.rglob("*") if p.is_file()
    )


@pytest.fixture
def checkpoint(small_checkpoint):
    return checkpoint_files(small_checkpoint)


@pytest.fixture
def writer(owner, api_client_for):
    return api_client_for(owner)


FIELDS = {"organization": "acme", "slug": "tiny", "name": "Tiny", "license": "MIT"}


def multipart(data: dict, files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart body written by hand; ``files`` are (field, Content-Disposition filename part, bytes)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        for key, values in data.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    for field, disposition, content in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; {disposition}\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def assert_refused(response, field: str):
    assert response.status_code == 400, (response.status_code, response.content[:500])
    body = response.json()
    assert field in body, body
    assert stored_nothing()


@hostile_cases()
def test_a_hostile_relative_path_of_an_uploaded_file_is_refused(writer, checkpoint, name, no_escape):
    body, content_type = multipart(
        {**FIELDS, "paths": [path for path, _ in checkpoint] + [name]},
        [("files", 'filename="f"', content) for _, content in checkpoint]
        + [("files", 'filename="f"', b"{}")],
    )
    response = writer.generic("POST", "/api/v1/models/", body, content_type=content_type)
    assert response.status_code == 400, response.content[:300]
    assert "files" in response.json() or "paths" in response.json()
    assert stored_nothing()


def filename_forms(name: str) -> list[str]:
    """How a client may put a name in Content-Disposition: plain, HTML-escaped, RFC 2231-encoded."""
    forms = [f"filename*=UTF-8''{quote(name, safe='')}"]
    if not any(char in name for char in '"\r\n\x00'):
        forms.append(f'filename="{name}"')
    forms.append('filename="' + "".join(f"&#{ord(char)};" for char in name) + '"')
    return forms


@hostile_cases()
def test_a_hostile_multipart_filename_is_refused(writer, checkpoint, name, no_escape):
    for disposition in filename_forms(name):
        files = [("files", f'filename="{path}"', content) for path, content in checkpoint]
        body, content_type = multipart(FIELDS, [*files, ("files", disposition, b"{}")])
        response = writer.generic("POST", "/api/v1/models/", body, content_type=content_type)
        # The parser may drop a name it cannot read at all; the upload is refused either way.
        assert response.status_code == 400, (disposition, response.content[:300])
        assert stored_nothing()


def tar_gz(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def zipped(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members:
            archive.writestr(zipfile.ZipInfo(name), content)
    data = buffer.getvalue()
    return data


@pytest.mark.parametrize("pack", [tar_gz, zipped])
@hostile_cases()
def test_a_hostile_archive_member_is_refused(tmp_path, pack, name, no_escape):
    if "\x00" in name:
        pytest.skip("tar and zip names end at NUL (zip's cut is caught: tests/hub/test_archives.py)")
    if name == HOSTILE["dot-segment"]:
        pytest.skip("./name is how tar -C dir . writes every member: it is read as name, inside the root")
    destination = tmp_path / "blobs" / ".incoming" / "staging" / "checkpoint"  # where uploads unpack
    destination.mkdir(parents=True)
    archive = destination.parent / "upload.bin"
    archive.write_bytes(pack([("config.json", b"{}"), (name, b"escaped")]))
    with pytest.raises(ValidationError) as refused:
        extract_archive(archive, destination, ArchiveLimits(10**7, 100, 1000))
    assert "archive" in refused.value.message_dict
    assert files_under(tmp_path / "blobs") - {archive} <= {destination / "config.json"}


@pytest.mark.parametrize("name", ["dotdot", "percent", "fullwidth-dots", "trailing-dot", "absolute-mark"])
def test_an_uploaded_archive_with_a_hostile_member_is_refused_by_the_api_and_the_page(
    writer, client, owner, checkpoint, name, no_escape
):
    archive = tar_gz([*checkpoint, (HOSTILE[name], b"escaped")])
    body, content_type = multipart(FIELDS, [("archive", 'filename="model.tar.gz"', archive)])
    response = writer.generic("POST", "/api/v1/models/", body, content_type=content_type)
    assert_refused(response, "archive")
    client.force_login(owner)
    page = client.post(
        "/models/new/", {**FIELDS, "visibility": "private", "task": "text-classification",
                         "archive": io.BytesIO(archive)},
    )  # fmt: skip
    assert page.status_code == 200 and "archive" in page.context["form"].errors
    assert stored_nothing()


# Dataset uploads: the name of the file to split, and of each given split


def dataset_fields(**files) -> dict:
    return {"organization": "acme", "slug": "reviews", "name": "Reviews", "license": "MIT",
            "text_field": "text", "label_field": "label", **files}  # fmt: skip


@hostile_cases()
def test_a_hostile_dataset_file_name_is_refused_or_cut_to_a_safe_name(writer, name, no_escape):
    """Django keeps only the last part of a multipart filename and drops unprintable characters; whatever
    survives that must be a valid name, or the upload is a 400 on the field."""
    hostile = f"{name}.csv"
    data = demo_csv_bytes(40)
    for field in ("file", "train_file"):
        extra = {"validation_file": ("v.csv", data)} if field == "train_file" else {}
        files = [(key, f"filename*=UTF-8''{quote(n, safe='')}", content) for key, (n, content) in
                 {field: (hostile, data), **extra}.items()]  # fmt: skip
        body, content_type = multipart(dataset_fields(), files)
        response = writer.generic("POST", "/api/v1/datasets/", body, content_type=content_type)
        kept = MultiPartParser.sanitize_file_name(None, hostile)
        kept = kept and SimpleUploadedFile(kept, b"").name  # which cuts a long name to 255 characters
        try:
            safe = kept is not None and validate_file_name(kept)
        except ValueError:
            safe = False
        if len(hostile) > 1024:  # Django's own limit on a part's headers refuses it first
            assert response.status_code == 400 and "header size" in response.json()["detail"]
        elif not safe:
            assert response.status_code == 400, (kept, response.content[:300])
            assert field in response.json(), response.json()
            assert not DatasetVersion.objects.exists()
        else:
            assert response.status_code == 201, (kept, response.content[:300])
            paths = set(DatasetVersion.objects.get().files.values_list("path", flat=True))
            assert all(validate_file_name(path) == path for path in paths), paths
            Dataset.objects.all().delete()


# Downloads: file routes take an id; a path in their place is not a route


@hostile_cases()
def test_download_routes_answer_404_for_a_hostile_path(client, name, no_escape):
    for prefix in ("/files/models/", "/files/datasets/"):
        response = client.get(prefix + quote(name, safe=""))
        assert response.status_code in (400, 404)
        response = client.get(prefix + quote(name, safe="/%"))
        assert response.status_code in (400, 404)


# The Hugging Face routes


@pytest.fixture
def published(base_version):
    ModelVersion.objects.filter(pk=base_version.pk).update(
        status=ModelVersion.Status.PUBLISHED, published_at=timezone.now()
    )
    return base_version


@pytest.fixture
def bearer(owner) -> dict:
    secret = issue_token(user=owner, name="hf", scope=AccessToken.Scope.WRITE).secret
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def assert_bad_path(response, name):
    # A newline cannot be in a route's path: the resolver answers 404 before any view.
    if "\n" in name:
        assert response.status_code in (400, 404)
        return
    assert response.status_code == 400, (name, response.status_code, response.content[:300])
    assert response["X-Error-Code"] == "BadRequest"
    assert "path" in response.json()["error"]


# One registered checkpoint serves every name (registering one takes seconds).
def test_resolve_and_tree_refuse_a_hostile_path_with_400(client, published, bearer, no_escape):
    for name in HOSTILE.values():
        for template in ("/acme/tiny/resolve/main/{}", "/api/models/acme/tiny/tree/main/{}"):
            assert_bad_path(client.get(template.format(quote(name, safe="")), **bearer), name)
    # Django decodes the URL once: an encoded traversal arrives as ../ and is refused as such.
    assert_bad_path(client.get(f"/acme/tiny/resolve/main/..%2f..%2f{MARK}", **bearer), "")
    assert_bad_path(client.get(f"/acme/tiny/resolve/main/%252e%252e%252f{MARK}", **bearer), "")


def test_paths_info_ignores_hostile_paths(client, published, bearer):
    response = client.post(
        "/api/models/acme/tiny/paths-info/main", {"paths": [*HOSTILE.values(), "config.json"]}, **bearer
    )
    assert response.status_code == 200
    assert [entry["path"] for entry in response.json()] == ["config.json"]


@pytest.fixture
def repository(base_version):
    return base_version.model


def ndjson(*lines: dict) -> bytes:
    return b"\n".join(json.dumps(line).encode() for line in lines) + b"\n"


def test_hf_commit_and_preupload_refuse_a_hostile_path(client, repository, bearer, no_escape):
    versions = ModelVersion.objects.count()
    for name in HOSTILE.values():
        assert_commit_and_preupload_refuse(client, bearer, name)
    assert ModelVersion.objects.count() == versions


def assert_commit_and_preupload_refuse(client, bearer, name: str) -> None:
    header = {"key": "header", "value": {"summary": "x", "description": ""}}
    for operation in (
        {
            "key": "file",
            "value": {"path": name, "content": base64.b64encode(b"x").decode(), "encoding": "base64"},
        },
        {"key": "lfsFile", "value": {"path": name, "algo": "sha256", "oid": "0" * 64, "size": 1}},
        {"key": "deletedFile", "value": {"path": name}},
        {"key": "deletedFolder", "value": {"path": name}},
    ):
        response = client.post("/api/models/acme/tiny/commit/main", ndjson(header, operation),
                               content_type="application/x-ndjson", **bearer)  # fmt: skip
        assert response.status_code == 400, (name, operation["key"], response.content[:300])
        assert response["X-Error-Code"] == "BadRequest"
    response = client.post("/api/models/acme/tiny/preupload/main",
                           {"files": [{"path": name, "size": 1, "sample": ""}]},
                           content_type="application/json", **bearer)  # fmt: skip
    assert response.status_code == 400, (name, response.content[:300])
    assert "path" in response.json()["error"]


# import_checkpoint


def import_command(directory: Path):
    call_command("import_checkpoint", str(directory), org="acme", slug="imported", license="MIT",
                 user="owner", stdout=io.StringIO())  # fmt: skip


def test_import_checkpoint_refuses_a_symlink_escaping_the_directory(owner, small_checkpoint, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the registry")
    (small_checkpoint / "notes.txt").symlink_to(secret)
    with pytest.raises(CommandError, match="symbolic links"):
        import_command(small_checkpoint)
    (small_checkpoint / "notes.txt").unlink()
    (small_checkpoint / "extra").symlink_to("/etc", target_is_directory=True)
    with pytest.raises(CommandError, match="symbolic links"):
        import_command(small_checkpoint)
    assert stored_nothing()


@pytest.mark.parametrize(
    "name", ["trailing-dot", "trailing-space", "newline", "fullwidth-solidus", "percent", "hash",
             "alternate-stream", "right-to-left-override", "reserved-device-extension", "long-300"],
)  # fmt: skip
def test_import_checkpoint_refuses_a_file_with_a_hostile_name(owner, small_checkpoint, name):
    hostile = {"hash": f"{MARK}#x"}.get(name, HOSTILE[name])
    if len(hostile) > 255:
        (small_checkpoint / ("d" * 200)).mkdir()
        hostile = "d" * 200 + "/" + "e" * 100
    (small_checkpoint / hostile).write_bytes(b"{}")
    with pytest.raises(CommandError, match="files"):
        import_command(small_checkpoint)
    assert stored_nothing()
