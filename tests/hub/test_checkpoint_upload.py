"""Uploading a checkpoint through the API and the page: validated fully, and never half-stored."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from hub.models import AccessToken, Blob, ModelFile, ModelVersion, RegisteredModel, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

MODELS_URL = "/api/v1/models/"


def checkpoint_files(directory) -> list[tuple[str, bytes]]:
    return sorted(
        (path.relative_to(directory).as_posix(), path.read_bytes())
        for path in directory.rglob("*")
        if path.is_file()
    )


def fields(**overrides):
    return {"organization": "acme", "slug": "tiny", "name": "Tiny BERT", "license": "Apache-2.0", **overrides}


def upload_files(client, files, url=MODELS_URL, paths=True, **data):
    """Post files with their relative paths in ``paths`` (the test client sends only base names)."""
    uploads = [SimpleUploadedFile(name.rsplit("/", 1)[-1] or "f", content) for name, content in files]
    body = {**data, "files": uploads}
    if paths:
        body["paths"] = [name for name, _ in files]
    return client.post(url, body, format="multipart")


def raw_multipart(client, url, data, files):
    """Post a multipart body by hand, to send relative paths (or hostile names) as filenames."""
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in data.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, content in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return client.generic(
        "POST", url, b"".join(parts), content_type=f"multipart/form-data; boundary={boundary}"
    )


def tar_gz(files) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def zipped(files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return buffer.getvalue()


def counts():
    return RegisteredModel.objects.count(), ModelVersion.objects.count(), Blob.objects.count()


@pytest.fixture
def writer_client(owner, api_client_for):
    return api_client_for(owner)


@pytest.fixture
def files(small_checkpoint):
    return checkpoint_files(small_checkpoint)


def assert_refused(response, field, fragment, before=(0, 0, 0)):
    assert response.status_code == 400, response.content
    assert fragment in json.dumps(response.json()[field]), response.json()
    assert counts() == before


# Happy paths


def test_multi_file_upload_creates_the_model_and_version_1(writer_client, files, isolated_storage):
    nested = [*files, ("1_Pooling/config.json", b'{"pooling_mode_mean_tokens": true}')]
    response = upload_files(writer_client, nested, **fields(description="d", task="feature-extraction"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == 1 and body["origin"] == "upload" and body["model"] == "acme/tiny"
    assert {f["path"] for f in body["files"]} == {name for name, _ in nested}
    model = RegisteredModel.objects.get()
    assert model.task == "feature-extraction" and model.license == "Apache-2.0"
    stored = {f.path: f.blob for f in ModelFile.objects.select_related("blob")}
    from hub.services.blobs import read_verified

    assert all(read_verified(stored[name]) == content for name, content in nested)
    # The staging folder and the received files are gone; only blobs remain.
    incoming = isolated_storage / "blobs" / ".incoming"
    assert not any(incoming.iterdir())


def test_relative_paths_may_be_sent_as_filenames(writer_client, files):
    nested = [*files, ("1_Pooling/config.json", b"{}")]
    response = raw_multipart(writer_client, MODELS_URL, fields(), nested)
    assert response.status_code == 201, response.content
    assert "1_Pooling/config.json" in {f["path"] for f in response.json()["files"]}


@pytest.mark.parametrize("packer", [tar_gz, zipped], ids=["tar.gz", "zip"])
def test_archive_upload(writer_client, files, packer):
    archive = SimpleUploadedFile("tiny.archive", packer(files))
    response = writer_client.post(MODELS_URL, {**fields(), "archive": archive}, format="multipart")
    assert response.status_code == 201, response.content
    assert {f["path"] for f in response.json()["files"]} == {name for name, _ in files}


def test_an_archive_with_one_top_folder_is_unwrapped(writer_client, files):
    archive = SimpleUploadedFile("tiny.tar.gz", tar_gz([(f"tiny-bert/{n}", c) for n, c in files]))
    response = writer_client.post(MODELS_URL, {**fields(), "archive": archive}, format="multipart")
    assert response.status_code == 201, response.content
    assert "config.json" in {f["path"] for f in response.json()["files"]}


def test_a_new_version_is_added_and_identical_files_are_stored_once(writer_client, files):
    created = upload_files(writer_client, files, **fields())
    model_id = RegisteredModel.objects.get().pk
    blobs_before = Blob.objects.count()
    response = upload_files(writer_client, files, url=f"{MODELS_URL}{model_id}/versions/")
    assert response.status_code == 201, response.content
    assert response.json()["number"] == 2
    assert Blob.objects.count() == blobs_before
    assert {f["sha256"] for f in response.json()["files"]} == {f["sha256"] for f in created.json()["files"]}


# Refusals: a 400 naming the field, and nothing stored


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("../../etc/passwd", "'..'"),
        ("a\\b", "backslash"),
        ("/abs", "absolute"),
        ("x" * 300, "longer than"),
        ("", "empty"),
    ],
)
def test_hostile_paths_are_refused(writer_client, files, name, fragment):
    response = upload_files(writer_client, [*files, (name, b"x")], **fields())
    assert_refused(response, "files", fragment)


def test_a_nul_in_a_path_is_refused(writer_client, files):
    response = upload_files(writer_client, [*files, ("a\x00b", b"x")], **fields())
    assert_refused(response, "paths", "Null characters")


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs", "a\\b", "a/..", "x" * 300])
def test_hostile_filenames_are_refused(writer_client, files, name):
    response = raw_multipart(writer_client, MODELS_URL, fields(), [*files, (name, b"x")])
    assert_refused(response, "files", "the file name")


def test_paths_must_match_the_files(writer_client, files):
    response = writer_client.post(
        MODELS_URL,
        {**fields(), "files": [SimpleUploadedFile("config.json", b"{}")], "paths": ["a", "b"]},
        format="multipart",
    )
    assert_refused(response, "paths", "one path per file")


def test_files_and_archive_together_or_neither_are_refused(writer_client, files):
    assert_refused(writer_client.post(MODELS_URL, fields(), format="multipart"), "files", "either")
    archive = SimpleUploadedFile("a.zip", zipped(files))
    body = {**fields(), "archive": archive, "files": [SimpleUploadedFile("config.json", b"{}")]}
    assert_refused(writer_client.post(MODELS_URL, body, format="multipart"), "files", "either")


@pytest.mark.parametrize(
    ("member", "fragment"),
    [("../evil.txt", "'..'"), ("/etc/evil", "absolute"), ("a\\b", "backslash")],
)
def test_an_archive_member_escaping_the_root_is_refused(writer_client, files, member, fragment):
    archive = SimpleUploadedFile("a.tar.gz", tar_gz([*files, (member, b"evil")]))
    response = writer_client.post(MODELS_URL, {**fields(), "archive": archive}, format="multipart")
    assert_refused(response, "archive", fragment)


@pytest.mark.parametrize("packer", [tar_gz, zipped], ids=["tar.gz", "zip"])
def test_an_archive_bomb_is_refused(writer_client, files, packer):
    config = dict(files)["config.json"]
    bomb = packer([("config.json", config), ("zeros.safetensors", bytes(50 * 1024 * 1024))])
    archive = SimpleUploadedFile("a", bomb)
    response = writer_client.post(MODELS_URL, {**fields(), "archive": archive}, format="multipart")
    assert_refused(response, "archive", "compression-ratio limit")


def test_too_many_members_are_refused(writer_client, files, settings):
    settings.AGORA_ARCHIVE_MAX_MEMBERS = 20
    many = [*files, *((f"extra/{i}.txt", b"x") for i in range(20))]
    for packer in (tar_gz, zipped):
        archive = SimpleUploadedFile("a", packer(many))
        response = writer_client.post(MODELS_URL, {**fields(), "archive": archive}, format="multipart")
        assert_refused(response, "archive", "more than 20 members")


def test_a_symlink_in_an_archive_is_refused(writer_client, files):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo("notes.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    upload = SimpleUploadedFile("a.tgz", buffer.getvalue())
    response = writer_client.post(MODELS_URL, {**fields(), "archive": upload}, format="multipart")
    assert_refused(response, "archive", "is a link")


def test_an_archive_that_is_no_archive_is_refused(writer_client):
    upload = SimpleUploadedFile("a.tar.gz", b"not an archive at all")
    response = writer_client.post(MODELS_URL, {**fields(), "archive": upload}, format="multipart")
    assert_refused(response, "archive", "not a valid")


def corrupt_header(files):
    return [
        (n, b"\x10\0\0\0\0\0\0\0not json at all!" + c[24:] if n == "model.safetensors" else c)
        for n, c in files
    ]


@pytest.mark.parametrize(
    ("breakage", "fragment"),
    [
        (lambda f: [*f, ("pytorch_model.bin", b"\x80\x04pickle")], "Convert them to safetensors"),
        (corrupt_header, "corrupted safetensors"),
        (lambda f: [(n, b"{model_type: bert" if n == "config.json" else c) for n, c in f], "not valid JSON"),
        (lambda f: [(n, c) for n, c in f if n != "model.safetensors"], "no .safetensors"),
    ],
    ids=["pickle", "corrupt-header", "config-not-json", "no-weights"],
)
def test_broken_checkpoints_are_refused_in_files_and_archives(writer_client, files, breakage, fragment):
    broken = breakage(files)
    assert_refused(upload_files(writer_client, broken, **fields()), "files", fragment)
    archive = SimpleUploadedFile("a.zip", zipped(broken))
    response = writer_client.post(MODELS_URL, {**fields(), "archive": archive}, format="multipart")
    assert_refused(response, "archive", fragment)


def test_a_refused_new_version_stores_nothing(writer_client, files):
    upload_files(writer_client, files, **fields())
    before = counts()
    model_id = RegisteredModel.objects.get().pk
    broken = [*files, ("extra.pt", b"\x80\x04pickle")]
    response = upload_files(writer_client, broken, url=f"{MODELS_URL}{model_id}/versions/")
    assert_refused(response, "files", "pickle", before=before)


def test_a_duplicate_slug_is_refused(writer_client, files):
    assert upload_files(writer_client, files, **fields()).status_code == 201
    before = counts()
    assert_refused(
        upload_files(writer_client, files, **fields(name="Again")), "slug", "already exists", before
    )


def test_bad_artifact_fields_are_refused(writer_client, files):
    assert_refused(upload_files(writer_client, files, **fields(license="not a licence")), "license", "")
    assert_refused(upload_files(writer_client, files, **fields(slug="no spaces")), "slug", "")


# Permissions


def test_a_read_only_token_may_not_upload(owner, api_client_for, files):
    client = api_client_for(owner, scope=AccessToken.Scope.READ)
    response = upload_files(client, files, **fields())
    assert response.status_code == 403
    assert counts() == (0, 0, 0)


def test_a_token_of_another_organization_may_not_upload(owner, api_client_for, files):
    other = MembershipFactory(organization=OrganizationFactory(slug="other"), user=owner).organization
    client = api_client_for(owner, organization=other)
    assert upload_files(client, files, **fields()).status_code == 403
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("role", [Role.VIEWER, None], ids=["viewer", "outsider"])
def test_viewers_and_outsiders_may_not_upload(organization, member_of, api_client_for, files, role):
    user = member_of(organization, role) if role else UserFactory()
    response = upload_files(api_client_for(user), files, **fields())
    assert response.status_code == 403
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("role", [Role.VIEWER, None], ids=["viewer", "outsider"])
def test_viewers_and_outsiders_may_not_add_versions(
    writer_client, organization, member_of, api_client_for, files, role
):
    upload_files(writer_client, files, **fields(visibility="internal"))
    before = counts()
    user = member_of(organization, role) if role else UserFactory()
    url = f"{MODELS_URL}{RegisteredModel.objects.get().pk}/versions/"
    assert upload_files(api_client_for(user), files, url=url).status_code == 403
    assert counts() == before


# The page


def test_the_upload_page_creates_a_model_and_a_version(client, owner, organization, files):
    client.force_login(owner)
    top_level = [(name, content) for name, content in files if "/" not in name]
    body = {
        **fields(visibility="private", task="text-classification", description=""),
        "files": [SimpleUploadedFile(name, content) for name, content in top_level],
    }
    response = client.post(reverse("hub:model-create"), body)
    assert response.status_code == 302, response.content
    model = RegisteredModel.objects.get()
    page = client.get(model.get_absolute_url())
    new_version_url = reverse("hub:model-version-create", kwargs={"org": "acme", "slug": "tiny"})
    assert new_version_url.encode() in page.content
    archive = SimpleUploadedFile("tiny.zip", zipped(files))
    assert client.post(new_version_url, {"archive": archive}).status_code == 302
    assert model.versions.count() == 2


def test_the_upload_page_shows_errors_and_stores_nothing(client, owner, organization, files):
    client.force_login(owner)
    body = {**fields(visibility="private", task="x"), "files": [SimpleUploadedFile("config.json", b"{}")]}
    response = client.post(reverse("hub:model-create"), body)
    assert response.status_code == 200
    assert b"no tokenizer files" in response.content or b"is missing" in response.content
    assert counts() == (0, 0, 0)
    assert client.get(reverse("hub:model-create")).status_code == 200


def test_a_process_without_torch_validates_in_a_child_process(small_checkpoint, monkeypatch):
    import sys

    from hub.checkpoint_files import _load_with_transformers_isolated

    (small_checkpoint / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    monkeypatch.delitem(sys.modules, "torch")
    _, error = _load_with_transformers_isolated(small_checkpoint)
    assert "does not load with transformers" in error
