"""The write side of the Hugging Face protocol, shown with the real clients (huggingface_hub's create_repo and
upload_folder, and the ``hf upload`` command) against a live server; then the protocol's edges by hand."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path

import httpx2
import pytest

from governance.models import AuditEvent
from hub.hf import lfs
from hub.hf.revisions import commit_id
from hub.models import AccessToken, Blob, Membership, ModelVersion, RegisteredModel, Role, Visibility
from hub.services import blobs
from hub.services.hf_uploads import UNDECLARED_LICENSE
from hub.services.tokens import issue_token
from tests.conftest import MINILM_DIR
from tests.hf.conftest import publish

REPO_ID = "acme/uploaded"
HF_COMMAND = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "hf"
CARD = "---\nlicense: mit\ntags:\n- tiny\n---\n# A tiny BERT\n"


@pytest.fixture
def writer_token(owner) -> str:
    return issue_token(user=owner, name="upload", scope=AccessToken.Scope.WRITE).secret


@pytest.fixture
def api(hub_clients, writer_token):
    return hub_clients.api(writer_token)


@pytest.fixture
def tiny_dir(small_checkpoint) -> Path:
    """The tiny BERT with a model card declaring its licence."""
    (small_checkpoint / "README.md").write_text(CARD)
    return small_checkpoint


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def version_files(version: ModelVersion) -> dict[str, str]:
    return dict(version.files.values_list("path", "blob_id"))


def folder_files(folder: Path) -> dict[str, str]:
    """Path → SHA-256 of every file a version of the folder keeps (hidden top-level files are not kept)."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file() and not path.relative_to(folder).as_posix().startswith(".")
    }


def assert_coded_error(response: httpx2.Response, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["X-Error-Code"]
    message = response.headers["X-Error-Message"] + " " + response.text
    for fragment in fragments:
        assert fragment in message


# Creating repositories ----------------------------------------------------------------------------------


def test_create_repo_registers_an_internal_model_and_a_second_call_conflicts(api, owner):
    from huggingface_hub.errors import HfHubHTTPError

    url = api.create_repo(REPO_ID)
    assert url.repo_id == REPO_ID
    assert url == f"{api.endpoint}/{REPO_ID}"
    model = RegisteredModel.objects.get(organization__slug="acme", slug="uploaded")
    assert model.visibility == Visibility.INTERNAL
    assert model.license == UNDECLARED_LICENSE
    assert model.created_by == owner
    assert AuditEvent.objects.filter(action="model.create", target_id=str(model.pk)).exists()

    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo(REPO_ID)
    assert excinfo.value.response.status_code == 409
    assert excinfo.value.response.json()["url"] == url
    assert api.create_repo(REPO_ID, exist_ok=True) == url
    assert RegisteredModel.objects.count() == 1


def test_create_repo_with_private_makes_a_model_private_to_the_organization(api):
    api.create_repo("acme/secret", private=True)
    assert RegisteredModel.objects.get(slug="secret").visibility == Visibility.PRIVATE


def test_create_repo_refuses_without_the_right_to_write(hub_clients, owner, owner_token, outsider):
    from huggingface_hub.errors import HfHubHTTPError

    read_only = hub_clients.api(owner_token)
    with pytest.raises(HfHubHTTPError, match="write scope"):
        read_only.create_repo(REPO_ID)
    stranger = hub_clients.api(issue_token(user=outsider, name="w", scope=AccessToken.Scope.WRITE).secret)
    with pytest.raises(HfHubHTTPError, match="may not create models in acme"):
        stranger.create_repo(REPO_ID)
    anonymous = hub_clients.api(False)
    with pytest.raises(HfHubHTTPError, match="access token with the write scope"):
        anonymous.create_repo(REPO_ID)
    assert not RegisteredModel.objects.exists()


def test_a_token_restricted_to_another_organization_cannot_create_in_acme(hub_clients, owner, outsider):
    from huggingface_hub.errors import HfHubHTTPError

    globex = outsider.organizations.get()
    Membership.objects.create(organization=globex, user=owner, role=Role.MEMBER)
    restricted = issue_token(
        user=owner, name="globex only", scope=AccessToken.Scope.WRITE, organization=globex
    )
    with pytest.raises(HfHubHTTPError, match="may not create models in acme"):
        hub_clients.api(restricted.secret).create_repo(REPO_ID)
    hub_clients.api(restricted.secret).create_repo("globex/allowed")
    assert RegisteredModel.objects.get().full_name == "globex/allowed"


def test_create_repo_needs_an_organization_and_a_model(api):
    from huggingface_hub.errors import BadRequestError

    with pytest.raises(BadRequestError, match="belong to an organization"):
        api.create_repo("uploaded")
    with pytest.raises(BadRequestError, match="not dataset ones"):
        api.create_repo(REPO_ID, repo_type="dataset")
    with pytest.raises(BadRequestError, match="not a valid model name"):
        api.create_repo("acme/with.dot")


# Uploading with upload_folder ---------------------------------------------------------------------------


def test_upload_folder_of_minilm_creates_a_version_that_transformers_loads(api, hub_clients, writer_token):
    import torch
    from transformers import AutoModel, AutoTokenizer

    api.create_repo(REPO_ID)
    info = api.upload_folder(folder_path=MINILM_DIR, repo_id=REPO_ID, commit_message="MiniLM from the bundle")

    version = ModelVersion.objects.get(model__slug="uploaded")
    assert (version.number, version.origin, version.status) == (1, ModelVersion.Origin.UPLOAD, "draft")
    assert info.oid == commit_id(version)
    assert info.commit_url == f"{api.endpoint}/{REPO_ID}/commit/{info.oid}"
    assert version_files(version) == folder_files(MINILM_DIR)
    for model_file in version.files.select_related("blob"):
        assert blobs.read_verified(model_file.blob) == (MINILM_DIR / model_file.path).read_bytes()
    assert version.architecture == "BertModel"
    assert version.num_parameters == 22_713_728
    model = version.model
    model.refresh_from_db()
    assert model.license == "Apache-2.0"  # from the front matter of the bundled README.md
    actions = set(AuditEvent.objects.filter(organization_slug="acme").values_list("action", flat=True))
    assert {"model.create", "model.update", "model_version.create", "model_version.commit"} <= actions
    commit_event = AuditEvent.objects.get(action="model_version.commit")
    assert commit_event.after["summary"] == "MiniLM from the bundle"

    # Reviewing and publishing belong to governance; once published the version is what main serves.
    publish(version)
    loaded = AutoModel.from_pretrained(REPO_ID, token=writer_token, cache_dir=hub_clients.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(REPO_ID, token=writer_token, cache_dir=hub_clients.cache_dir)
    local = AutoModel.from_pretrained(MINILM_DIR)
    batch = tokenizer(["a sentence to embed"], return_tensors="pt")
    assert (
        batch["input_ids"].tolist()
        == AutoTokenizer.from_pretrained(MINILM_DIR)(["a sentence to embed"])["input_ids"]
    )
    with torch.no_grad():
        assert torch.equal(loaded(**batch).last_hidden_state, local(**batch).last_hidden_state)


def test_a_commit_builds_on_the_latest_version_and_an_unchanged_one_adds_none(api, tiny_dir):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api.create_repo(REPO_ID)
    first = api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="v1")
    v1 = ModelVersion.objects.get()

    again = api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="same files")
    assert again.oid == first.oid
    assert ModelVersion.objects.count() == 1

    card = CARD + "\nNow with a longer description.\n"
    second = api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=REPO_ID)
    v2 = ModelVersion.objects.get(number=2)
    assert second.oid == commit_id(v2)
    expected = {**version_files(v1), "README.md": hashlib.sha256(card.encode()).hexdigest()}
    assert version_files(v2) == expected
    assert version_files(v1) == folder_files(tiny_dir)  # the first version is untouched

    api.create_commit(
        REPO_ID,
        operations=[
            CommitOperationDelete("special_tokens_map.json"),
            CommitOperationAdd("notes/extra.txt", b"more notes\n"),
        ],
        commit_message="tidy",
    )
    v3 = ModelVersion.objects.get(number=3)
    assert set(version_files(v3)) == (set(expected) - {"special_tokens_map.json"}) | {"notes/extra.txt"}


def test_push_to_hub_from_transformers_adds_a_version_that_keeps_the_tokenizer(
    api, hub_clients, writer_token, tiny_dir
):
    import torch
    from transformers import AutoModel

    api.create_repo(REPO_ID)
    api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="v1")
    v1 = publish(ModelVersion.objects.get())  # push_to_hub first reads the model card at main
    model = AutoModel.from_pretrained(tiny_dir)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.mul_(2)
    model.push_to_hub(REPO_ID, token=writer_token)
    v2 = ModelVersion.objects.get(number=2)
    assert version_files(v2)["model.safetensors"] != version_files(v1)["model.safetensors"]
    for name in ("tokenizer.json", "vocab.txt", "README.md"):
        assert version_files(v2)[name] == version_files(v1)[name]


def test_a_commit_on_a_stale_parent_is_refused(api, tiny_dir):
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    api.create_repo(REPO_ID)
    first = api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="v1")
    api.upload_file(path_or_fileobj=b"notes\n", path_in_repo="notes.txt", repo_id=REPO_ID)
    with pytest.raises(HfHubHTTPError, match="A commit has happened since"):
        api.create_commit(
            REPO_ID,
            operations=[CommitOperationAdd("other.txt", b"x\n")],
            commit_message="late",
            parent_commit=first.oid,
        )
    assert ModelVersion.objects.count() == 2


def test_pickle_weights_are_refused_before_anything_is_sent(api, tiny_dir):
    from huggingface_hub.errors import BadRequestError

    (tiny_dir / "pytorch_model.bin").write_bytes(b"\x80\x04pickled weights")
    api.create_repo(REPO_ID)
    with pytest.raises(BadRequestError) as excinfo:
        api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="with a pickle")
    assert "pickle weights are refused (pytorch_model.bin)" in str(excinfo.value)
    assert "Convert them to safetensors" in str(excinfo.value)
    assert not ModelVersion.objects.exists()
    assert not Blob.objects.exists()


def test_a_folder_the_registry_would_refuse_is_refused_with_its_reason(api, tiny_dir):
    from huggingface_hub.errors import BadRequestError

    for name in ("tokenizer.json", "vocab.txt"):
        (tiny_dir / name).unlink()
    api.create_repo(REPO_ID)
    with pytest.raises(BadRequestError, match="no tokenizer files found"):
        api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="no tokenizer")
    assert not ModelVersion.objects.exists()


def test_the_first_commit_must_declare_the_licence_and_later_ones_must_agree(api, small_checkpoint):
    from huggingface_hub.errors import BadRequestError

    api.create_repo(REPO_ID)
    with pytest.raises(BadRequestError, match=r"declare it in the YAML front matter of README\.md"):
        api.upload_folder(folder_path=small_checkpoint, repo_id=REPO_ID, commit_message="no card")
    (small_checkpoint / "README.md").write_text("---\nlicense: other\nlicense_name: acme-research\n---\n")
    api.upload_folder(folder_path=small_checkpoint, repo_id=REPO_ID, commit_message="card")
    assert RegisteredModel.objects.get().license == "LicenseRef-acme-research"
    with pytest.raises(BadRequestError, match="declares the licence MIT, but acme/uploaded is licensed"):
        api.upload_file(path_or_fileobj=CARD.encode(), path_in_repo="README.md", repo_id=REPO_ID)
    assert ModelVersion.objects.count() == 1


def test_uploading_needs_the_right_to_write_to_the_model(hub_clients, api, tiny_dir, outsider):
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    api.create_repo(REPO_ID, private=True)
    stranger = hub_clients.api(issue_token(user=outsider, name="w", scope=AccessToken.Scope.WRITE).secret)
    with pytest.raises(RepositoryNotFoundError):
        stranger.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="not mine")
    with pytest.raises(RepositoryNotFoundError):
        api.upload_folder(folder_path=tiny_dir, repo_id="acme/never-created", commit_message="no repo")
    RegisteredModel.objects.filter(slug="uploaded").update(visibility=Visibility.INTERNAL)
    with pytest.raises(HfHubHTTPError, match="may not upload to acme/uploaded"):
        stranger.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="still not mine")
    assert not ModelVersion.objects.exists()


def test_the_hf_upload_command_uploads_a_folder(hub_clients, writer_token, tiny_dir):
    if not HF_COMMAND.exists():
        pytest.skip("the hf command is not installed")
    environment = {
        **os.environ,
        "HF_ENDPOINT": hub_clients.endpoint,
        "HF_TOKEN": writer_token,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": str(hub_clients.cache_dir.parent),
    }
    result = subprocess.run(
        [str(HF_COMMAND), "upload", REPO_ID, str(tiny_dir), ".", "--commit-message", "from the command line"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    version = ModelVersion.objects.get(model__slug="uploaded")
    assert commit_id(version) in result.stdout
    assert version_files(version) == folder_files(tiny_dir)


# Card validation ----------------------------------------------------------------------------------------


MODEL_INDEX_CARD = """---
license: apache-2.0
model-index:
- name: tiny
  results:
  - task: {type: text-classification}
    dataset: {name: Reviews}
    metrics:
    - {type: accuracy, value: 0.9}
---
"""


def test_validate_yaml_enforces_the_licence_and_the_model_index_shape(hub_clients):
    from huggingface_hub import ModelCard

    url = f"{hub_clients.endpoint}/api/validate-yaml"
    good = httpx2.post(url, json={"content": "---\nlicense: apache-2.0\n---\n# Card", "repoType": "model"})
    assert good.status_code == 200
    assert good.json() == {"errors": [], "warnings": []}

    bad_license = httpx2.post(url, json={"content": "---\nlicense: free-for-all\n---\n", "repoType": "model"})
    assert_coded_error(bad_license, 400, "license: 'free-for-all' is not a known SPDX licence id")
    assert bad_license.json()["errors"][0]["message"].startswith("license:")

    bad_index = httpx2.post(url, json={"content": MODEL_INDEX_CARD, "repoType": "model"})
    assert_coded_error(bad_index, 400, "model-index[0].results[0].dataset.type: required")

    empty = httpx2.post(url, json={"content": "# No metadata", "repoType": "model"})
    assert empty.status_code == 200
    assert empty.json()["warnings"] == [{"message": "Empty or missing yaml metadata in repo card"}]

    # RepoCard.validate asks for text: its ValueError carries the message as it is.
    with pytest.raises(ValueError, match="license: 'free-for-all' is not a known SPDX licence id"):
        ModelCard("---\nlicense: free-for-all\n---\n").validate()
    ModelCard("---\nlicense: mit\n---\n").validate()


def test_upload_folder_checks_the_card_before_sending_files(api, tiny_dir):
    (tiny_dir / "README.md").write_text(MODEL_INDEX_CARD)
    api.create_repo(REPO_ID)
    with pytest.raises(ValueError, match=r"Invalid metadata in README\.md"):
        api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="bad card")
    assert not Blob.objects.exists()


# The protocol's edges, by hand ---------------------------------------------------------------------------


@pytest.fixture
def repository(api) -> RegisteredModel:
    api.create_repo(REPO_ID)
    return RegisteredModel.objects.get()


def batch(hub_clients, token: str, objects: list[dict]) -> httpx2.Response:
    return httpx2.post(
        f"{hub_clients.endpoint}/{REPO_ID}.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": objects,
            "hash_algo": "sha256",
        },
        headers={**bearer(token), "Accept": lfs.LFS_MEDIA_TYPE, "Content-Type": lfs.LFS_MEDIA_TYPE},
    )


def test_lfs_batch_hands_out_signed_upload_urls_checked_on_upload(hub_clients, writer_token, repository):
    content = os.urandom(4096)
    oid = hashlib.sha256(content).hexdigest()
    answer = batch(hub_clients, writer_token, [{"oid": oid, "size": len(content)}])
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == lfs.LFS_MEDIA_TYPE
    (entry,) = answer.json()["objects"]
    upload, verify = entry["actions"]["upload"], entry["actions"]["verify"]
    assert upload["href"].startswith(
        f"{hub_clients.endpoint}/{REPO_ID}.git/info/lfs/objects/{oid}?signature="
    )

    assert_coded_error(
        httpx2.post(verify["href"], json={"oid": oid, "size": len(content)}), 404, "not been uploaded"
    )
    tampered = upload["href"].replace("signature=", "signature=x")
    assert_coded_error(httpx2.put(tampered, content=content), 403, "invalid or has expired")
    other_oid = upload["href"].replace(oid, "0" * 64)
    assert_coded_error(httpx2.put(other_oid, content=content), 403, "invalid or has expired")
    wrong = bytes(reversed(content))
    assert_coded_error(httpx2.put(upload["href"], content=wrong), 400, "does not match its object")
    assert_coded_error(httpx2.put(upload["href"], content=content[:-1]), 400, "4095 bytes")
    assert not Blob.objects.exists()

    assert httpx2.put(upload["href"], content=content).status_code == 200
    assert blobs.read_verified(Blob.objects.get(sha256=oid)) == content
    assert httpx2.post(verify["href"], json={"oid": oid, "size": len(content)}).status_code == 200
    # Uploaded once: the next batch asks for nothing.
    (again,) = batch(hub_clients, writer_token, [{"oid": oid, "size": len(content)}]).json()["objects"]
    assert "actions" not in again


def test_an_upload_url_expires_and_dies_with_its_token(hub_clients, writer_token, repository, monkeypatch):
    content = b"weights" * 100
    oid = hashlib.sha256(content).hexdigest()
    (entry,) = batch(hub_clients, writer_token, [{"oid": oid, "size": len(content)}]).json()["objects"]
    href = entry["actions"]["upload"]["href"]
    monkeypatch.setattr(lfs, "UPLOAD_URL_MAX_AGE", -1)
    assert_coded_error(httpx2.put(href, content=content), 403, "expired")
    monkeypatch.undo()
    AccessToken.objects.update(scope=AccessToken.Scope.READ)
    assert_coded_error(httpx2.put(href, content=content), 403, "no longer valid")
    assert not Blob.objects.exists()


def test_lfs_batch_reports_bad_objects_per_object(hub_clients, writer_token, repository, settings):
    settings.AGORA_ARCHIVE_MAX_BYTES = 1000
    answer = batch(
        hub_clients,
        writer_token,
        [{"oid": "not-a-hash", "size": 1}, {"oid": "a" * 64, "size": -1}, {"oid": "b" * 64, "size": 1001}],
    )
    assert answer.status_code == 200
    errors = [entry["error"]["message"] for entry in answer.json()["objects"]]
    assert "64 hex digits" in errors[0]
    assert "non-negative" in errors[1]
    assert "more than the 1000 allowed" in errors[2]
    download = httpx2.post(
        f"{hub_clients.endpoint}/{REPO_ID}.git/info/lfs/objects/batch",
        json={"operation": "download", "objects": []},
        headers=bearer(writer_token),
    )
    assert_coded_error(download, 422, "Only uploads")


def test_a_commit_cannot_use_content_uploaded_for_another_model(
    hub_clients, api, tiny_dir, outsider, repository
):
    """Knowing a file's hash is not having it: a gated or private file cannot be borrowed by its oid."""
    api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="private weights")
    weights = ModelVersion.objects.get().files.get(path="model.safetensors").blob
    stranger_token = issue_token(user=outsider, name="w", scope=AccessToken.Scope.WRITE).secret
    hub_clients.api(stranger_token).create_repo("globex/borrowed")
    (entry,) = httpx2.post(
        f"{hub_clients.endpoint}/globex/borrowed.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": [{"oid": weights.sha256, "size": weights.size}]},
        headers=bearer(stranger_token),
    ).json()["objects"]
    assert "upload" in entry["actions"]  # not "already there": the stranger must send the bytes
    reference = {"path": "model.safetensors", "algo": "sha256", "oid": weights.sha256, "size": weights.size}
    commit = commit_body({"key": "lfsFile", "value": reference})
    response = post_commit(hub_clients, stranger_token, commit, repo_id="globex/borrowed")
    assert_coded_error(response, 400, f"the LFS object {weights.sha256} was not uploaded to globex/borrowed")


def commit_body(*operations: dict, header: dict | None = None) -> bytes:
    lines = [{"key": "header", "value": header or {"summary": "by hand", "description": ""}}, *operations]
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def post_commit(hub_clients, token: str, body: bytes, repo_id: str = REPO_ID, revision: str = "main"):
    return httpx2.post(
        f"{hub_clients.endpoint}/api/models/{repo_id}/commit/{revision}",
        content=body,
        headers={**bearer(token), "Content-Type": "application/x-ndjson"},
    )


def regular(path: str, content: bytes) -> dict:
    return {
        "key": "file",
        "value": {"path": path, "encoding": "base64", "content": base64.b64encode(content).decode()},
    }


DELETE_MISSING = {"key": "deletedFile", "value": {"path": "gone"}}
NOTES = regular("notes.txt", b"x")


def lfs_file(path: str, oid: str, size: int) -> dict:
    return {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json\n", "line 1 of the commit: not valid JSON"),
        (b'{"key": "file", "value": {}}\n', "must start with its header"),
        (b"", "the commit is empty"),
        (commit_body({"key": "file", "value": {"path": "a.txt", "content": "%%%"}}), "not valid base64"),
        (commit_body(regular("../escape.txt", b"x")), "'..'"),
        (commit_body(lfs_file("w.safetensors", "f" * 64, 3)), "was not uploaded"),
        (commit_body(DELETE_MISSING), "A file with this name doesn't exist"),
        (commit_body({"key": "rename", "value": {"path": "a"}}), "unsupported operation 'rename'"),
        (commit_body(regular("a", b"x"), regular("a/b", b"y")), "a/b clashes with the file a"),
        (commit_body(regular("README.md", CARD.encode()), NOTES), "config.json is missing"),
        (commit_body(header={"summary": 3}), "summary and description must be strings"),
    ],
)  # fmt: skip
def test_a_malformed_commit_is_refused_with_a_coded_error(
    hub_clients, writer_token, repository, body, fragment
):
    response = post_commit(hub_clients, writer_token, body)
    assert_coded_error(response, 400, fragment)
    assert not ModelVersion.objects.exists()


def test_commits_go_to_main_without_pull_requests(hub_clients, writer_token, repository):
    body = commit_body(regular("notes.txt", b"x"))
    assert_coded_error(
        post_commit(hub_clients, writer_token, body, revision="production"), 400, "Commits go to main"
    )
    response = httpx2.post(
        f"{hub_clients.endpoint}/api/models/{REPO_ID}/commit/main?create_pr=1",
        content=body,
        headers=bearer(writer_token),
    )
    assert_coded_error(response, 400, "no pull requests")


def test_preupload_sends_weights_and_binaries_through_lfs(hub_clients, writer_token, repository):
    def sample(data: bytes) -> str:
        return base64.b64encode(data[:512]).decode()

    files = [
        {"path": "config.json", "size": 20, "sample": sample(b'{"model_type": "bert"}')},
        {"path": "model.safetensors", "size": 100, "sample": sample(b"\x08\x00")},
        {"path": "notes.txt", "size": 11 * 1024 * 1024, "sample": sample(b"text")},
        {"path": "image.data", "size": 10, "sample": sample(b"\x89PNG\x00\x01")},
        {"path": "café.md", "size": 600, "sample": sample("é".encode() * 300)},
    ]
    response = httpx2.post(
        f"{hub_clients.endpoint}/api/models/{REPO_ID}/preupload/main",
        json={"files": files},
        headers=bearer(writer_token),
    )
    assert response.status_code == 200
    modes = {entry["path"]: entry["uploadMode"] for entry in response.json()["files"]}
    assert modes == {
        "config.json": "regular",
        "model.safetensors": "lfs",
        "notes.txt": "lfs",
        "image.data": "lfs",
        "café.md": "regular",
    }
    assert all(entry["shouldIgnore"] is False for entry in response.json()["files"])


def test_a_client_speaking_xet_is_told_to_disable_it(hub_clients, writer_token, repository):
    response = httpx2.get(
        f"{hub_clients.endpoint}/api/models/{REPO_ID}/xet-write-token/main", headers=bearer(writer_token)
    )
    assert_coded_error(response, 501, "HF_HUB_DISABLE_XET=1")


def test_commit_url_leads_to_the_version_page(hub_clients, api, tiny_dir, writer_token):
    api.create_repo(REPO_ID)
    info = api.upload_folder(folder_path=tiny_dir, repo_id=REPO_ID, commit_message="v1")
    response = httpx2.get(info.commit_url, headers=bearer(writer_token))
    assert response.status_code == 302
    assert response.headers["Location"] == ModelVersion.objects.get().get_absolute_url()
    assert httpx2.get(info.commit_url).status_code == 401  # internal: not for anonymous visitors
