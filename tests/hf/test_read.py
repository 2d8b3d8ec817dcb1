"""The read side of the Hugging Face protocol, shown with the real clients (huggingface_hub, transformers
and the ``hf`` command) against a live server."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from django.utils import timezone

from hub.hf.read_repos import git_blob_id
from hub.hf.revisions import commit_id, dataset_commit_id
from hub.models import AccessToken, Download, Visibility
from hub.services import blobs
from hub.services.models import materialize_version
from hub.services.tokens import issue_token

SENTENCES = ["a wonderful, moving film", "dull and far too long"]


def file_bytes(version, path: str) -> bytes:
    return blobs.read_verified(version.files.get(path=path).blob)


def resolve_url(hub_clients, repo_id: str, revision: str, path: str) -> str:
    return f"{hub_clients.endpoint}/{repo_id}/resolve/{revision}/{path}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Downloading ------------------------------------------------------------------------------------------


def test_snapshot_download_fetches_every_file_of_the_latest_published_version(hub_clients, classifier):
    from huggingface_hub import snapshot_download

    folder = Path(
        snapshot_download(classifier.repo_id, endpoint=hub_clients.endpoint, cache_dir=hub_clients.cache_dir)
    )
    assert folder.name == commit_id(classifier.v2)
    expected = sorted(classifier.v2.files.values_list("path", flat=True))
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == expected
    for path in expected:
        assert (folder / path).read_bytes() == file_bytes(classifier.v2, path)


def test_hf_hub_download_fetches_one_file_at_a_tag_an_alias_and_a_commit(hub_clients, classifier):
    from huggingface_hub import hf_hub_download

    for revision, version in [
        (None, classifier.v2),
        ("v1", classifier.v1),
        ("production", classifier.v1),
        (commit_id(classifier.v1), classifier.v1),
    ]:
        path = hf_hub_download(
            classifier.repo_id, "model.safetensors", revision=revision,
            endpoint=hub_clients.endpoint, cache_dir=hub_clients.cache_dir,
        )  # fmt: skip
        assert Path(path).read_bytes() == file_bytes(version, "model.safetensors")
        assert Path(path).parent.name == commit_id(version)


def test_model_info_describes_the_repository_at_a_revision(hub_clients, classifier):
    api = hub_clients.api()
    info = api.model_info(classifier.repo_id)
    assert info.id == "acme/classifier"
    assert info.author == "acme"
    assert info.sha == commit_id(classifier.v2)
    assert sorted(s.rfilename for s in info.siblings) == sorted(
        classifier.v2.files.values_list("path", flat=True)
    )
    assert info.private is False
    assert info.gated is False
    assert abs(info.last_modified - classifier.v2.published_at) < timedelta(milliseconds=1)
    assert info.pipeline_tag == "text-classification"
    assert info.library_name == "transformers"
    assert {"transformers", "safetensors", "bert", "text-classification", "license:mit"} <= set(info.tags)
    assert info.card_data.license == "mit"
    assert info.downloads == 0
    assert info.likes == 0
    assert info.safetensors.total == classifier.v2.num_parameters

    assert api.model_info(classifier.repo_id, revision="v1").sha == commit_id(classifier.v1)
    assert api.model_info(classifier.repo_id, revision="production").sha == commit_id(classifier.v1)
    pinned = api.model_info(classifier.repo_id, revision=commit_id(classifier.v1), files_metadata=True)
    weights = next(s for s in pinned.siblings if s.rfilename == "model.safetensors")
    stored = classifier.v1.files.get(path="model.safetensors").blob
    assert (weights.lfs.sha256, weights.lfs.size, weights.size) == (stored.sha256, stored.size, stored.size)
    config = next(s for s in pinned.siblings if s.rfilename == "config.json")
    assert config.lfs is None
    assert config.blob_id == git_blob_id(config.size, [file_bytes(classifier.v1, "config.json")])

    only = api.model_info(classifier.repo_id, expand=["sha", "downloads"])
    assert (only.sha, only.downloads, only.siblings, only.tags) == (commit_id(classifier.v2), 0, None, None)


def test_transformers_loads_the_version_at_main_a_tag_and_an_alias(hub_clients, classifier, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    def logits(source, **options):
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
        model = AutoModelForSequenceClassification.from_pretrained(source, **options).eval()
        with torch.no_grad():
            return model(**tokenizer(SENTENCES, padding=True, return_tensors="pt")).logits

    local = {
        version.number: logits(str(materialize_version(version, tmp_path / f"v{version.number}")))
        for version in (classifier.v1, classifier.v2)
    }
    assert not torch.allclose(local[1], local[2])  # the revisions below must tell the versions apart
    for revision, number in [("main", 2), ("v1", 1), ("production", 1)]:
        remote = logits(classifier.repo_id, revision=revision, cache_dir=hub_clients.cache_dir)
        assert torch.allclose(remote, local[number]), revision


def test_the_hf_command_downloads_at_a_revision(hub_clients, classifier, tmp_path):
    environment = {**os.environ, "HF_HUB_CACHE": str(hub_clients.cache_dir)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "hf"), "download", classifier.repo_id, "config.json",
         "--revision", "v1", "--local-dir", str(tmp_path / "out"), "--quiet"],
        env=environment, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "config.json").read_bytes() == file_bytes(classifier.v1, "config.json")


# The protocol's details ---------------------------------------------------------------------------------


def test_head_carries_the_commit_etags_and_sizes_and_no_xet_headers(hub_clients, classifier):
    weights = classifier.v2.files.get(path="model.safetensors").blob
    response = httpx2.head(resolve_url(hub_clients, classifier.repo_id, "main", "model.safetensors"))
    assert response.status_code == 200
    assert response.headers["X-Repo-Commit"] == commit_id(classifier.v2)
    assert response.headers["ETag"] == f'"{weights.sha256}"'
    assert response.headers["X-Linked-Etag"] == f'"{weights.sha256}"'
    assert response.headers["X-Linked-Size"] == str(weights.size)
    assert response.headers["Content-Length"] == str(weights.size)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.content == b""
    assert not any(name.lower().startswith("x-xet") for name in response.headers)

    config = file_bytes(classifier.v2, "config.json")
    response = httpx2.head(resolve_url(hub_clients, classifier.repo_id, "main", "config.json"))
    assert response.headers["ETag"] == f'"{git_blob_id(len(config), [config])}"'  # a regular file, as in git
    assert response.headers["Content-Length"] == str(len(config))


def test_a_download_resumes_from_a_byte_offset(hub_clients, classifier, tmp_path):
    from huggingface_hub.file_download import http_get

    data = file_bytes(classifier.v2, "model.safetensors")
    url = resolve_url(hub_clients, classifier.repo_id, "main", "model.safetensors")
    offset = len(data) // 3

    response = httpx2.get(url, headers={"Range": f"bytes={offset}-"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {offset}-{len(data) - 1}/{len(data)}"
    assert response.headers["Content-Length"] == str(len(data) - offset)
    assert response.headers["X-Repo-Commit"] == commit_id(classifier.v2)
    assert response.content == data[offset:]

    assert httpx2.get(url, headers={"Range": "bytes=-10"}).content == data[-10:]
    assert httpx2.get(url, headers={"Range": "bytes=5-9"}).content == data[5:10]
    # A range for another version of the file (If-Range no longer matching) sends the whole file.
    stale = httpx2.get(url, headers={"Range": f"bytes={offset}-", "If-Range": '"0000"'})
    assert (stale.status_code, stale.content) == (200, data)
    beyond = httpx2.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(data)}"
    assert beyond.headers["X-Error-Code"] == "RangeNotSatisfiable"

    # huggingface_hub's own resume: a partial file completed with Range: bytes=<its size>-.
    partial = tmp_path / "model.safetensors.incomplete"
    partial.write_bytes(data[:offset])
    with open(partial, "ab") as handle:
        http_get(url, handle, resume_size=offset, expected_size=len(data))
    assert partial.read_bytes() == data


def test_the_tree_lists_lfs_objects_and_folders(hub_clients, classifier):
    from huggingface_hub.hf_api import RepoFile

    entries = {e.path: e for e in hub_clients.api().list_repo_tree(classifier.repo_id, recursive=True)}
    weights = classifier.v2.files.get(path="model.safetensors").blob
    assert entries["model.safetensors"].lfs.sha256 == weights.sha256
    assert entries["model.safetensors"].lfs.size == weights.size
    assert entries["model.safetensors"].lfs.pointer_size > 100
    assert entries["config.json"].lfs is None
    assert all(isinstance(entry, RepoFile) for entry in entries.values())

    raw = httpx2.get(f"{hub_clients.endpoint}/api/models/{classifier.repo_id}/tree/v1?recursive=true").json()
    raw_weights = next(e for e in raw if e["path"] == "model.safetensors")
    stored = classifier.v1.files.get(path="model.safetensors").blob
    assert raw_weights["type"] == "file"
    assert raw_weights["lfs"]["oid"] == stored.sha256
    assert set(raw_weights["lfs"]) == {"oid", "size", "pointerSize"}
    assert not any("xet" in key.lower() for entry in raw for key in entry)


def test_refs_and_commits_list_versions_and_aliases(hub_clients, classifier):
    api = hub_clients.api()
    refs = api.list_repo_refs(classifier.repo_id)
    assert {(b.name, b.target_commit) for b in refs.branches} == {
        ("main", commit_id(classifier.v2)),
        ("production", commit_id(classifier.v1)),
    }
    assert {(t.name, t.target_commit) for t in refs.tags} == {
        ("v1", commit_id(classifier.v1)),
        ("v2", commit_id(classifier.v2)),
    }
    commits = api.list_repo_commits(classifier.repo_id)
    assert [c.commit_id for c in commits] == [commit_id(classifier.v2), commit_id(classifier.v1)]
    assert api.file_exists(classifier.repo_id, "config.json", revision="v1")
    assert not api.file_exists(classifier.repo_id, "generation_config.json")
    [info] = api.get_paths_info(classifier.repo_id, ["model.safetensors", "missing.json"], revision="v1")
    assert info.lfs.sha256 == classifier.v1.files.get(path="model.safetensors").blob.sha256


# Errors ---------------------------------------------------------------------------------------------------


def test_a_private_model_is_not_found_without_a_token_or_with_another_organizations(
    hub_clients, register_classifier, owner, organization, owner_token, outsider_token
):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    private = register_classifier(slug="secret", visibility=Visibility.PRIVATE)
    # The owner's token narrowed to another organization sees no more than that organization does.
    other = issue_token(user=owner, name="narrow", organization=_second_org_of(owner)).secret

    def download(token):
        return hf_hub_download(
            private.repo_id, "config.json", token=token,
            endpoint=hub_clients.endpoint, cache_dir=hub_clients.cache_dir,
        )  # fmt: skip

    for token in (False, outsider_token, other):
        with pytest.raises(RepositoryNotFoundError):
            download(token)
        with pytest.raises(RepositoryNotFoundError):
            hub_clients.api(token).model_info(private.repo_id)
    assert Path(download(owner_token)).read_bytes() == file_bytes(private.v2, "config.json")
    assert hub_clients.api(owner_token).model_info(private.repo_id).private is True

    anonymous = httpx2.head(resolve_url(hub_clients, private.repo_id, "main", "config.json"))
    assert (anonymous.status_code, anonymous.headers["X-Error-Code"]) == (401, "RepoNotFound")
    stranger = httpx2.head(
        resolve_url(hub_clients, private.repo_id, "main", "config.json"), headers=bearer(outsider_token)
    )
    assert (stranger.status_code, stranger.headers["X-Error-Code"]) == (404, "RepoNotFound")


def _second_org_of(user):
    from hub.models import Membership, Role
    from tests.factories import OrganizationFactory

    organization = OrganizationFactory(slug="initech")
    Membership.objects.create(organization=organization, user=user, role=Role.MEMBER)
    return organization


def test_a_gated_model_needs_a_grant(hub_clients, classifier, owner, organization, outsider, outsider_token):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import GatedRepoError

    from governance.models import AccessGrant, AccessMode, Policy, PolicyAttachment, PolicyVersion

    policy = Policy.objects.create(organization=organization, slug="on-request", name="On request")
    PolicyVersion.objects.create(policy=policy, number=1, license="MIT", access_mode=AccessMode.ON_REQUEST)
    PolicyAttachment.objects.create(policy=policy, model=classifier.model)

    def download(token):
        return hf_hub_download(
            classifier.repo_id, "config.json", token=token,
            endpoint=hub_clients.endpoint, cache_dir=hub_clients.cache_dir,
        )  # fmt: skip

    for token in (False, outsider_token):
        with pytest.raises(GatedRepoError):
            download(token)
    # The repository itself stays visible, marked gated, as on the Hub.
    assert hub_clients.api(outsider_token).model_info(classifier.repo_id).gated == "manual"
    response = httpx2.head(
        resolve_url(hub_clients, classifier.repo_id, "main", "config.json"), headers=bearer(outsider_token)
    )
    assert (response.status_code, response.headers["X-Error-Code"]) == (403, "GatedRepo")

    AccessGrant.objects.create(organization=outsider.organizations.get(), model=classifier.model)
    assert Path(download(outsider_token)).read_bytes() == file_bytes(classifier.v2, "config.json")


def test_an_unknown_revision_is_reported_as_such(hub_clients, classifier):
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import RevisionNotFoundError

    options = {"endpoint": hub_clients.endpoint, "cache_dir": hub_clients.cache_dir}
    for revision in ("v99", "staging", "0" * 40):
        with pytest.raises(RevisionNotFoundError):
            hf_hub_download(classifier.repo_id, "config.json", revision=revision, **options)
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(classifier.repo_id, revision="v99", **options)
    with pytest.raises(RevisionNotFoundError):
        hub_clients.api().model_info(classifier.repo_id, revision="v99")


def test_a_missing_optional_file_is_skipped_as_transformers_expects(hub_clients, classifier):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError
    from transformers import GenerationConfig
    from transformers.utils.hub import cached_file

    with pytest.raises(EntryNotFoundError):
        hf_hub_download(
            classifier.repo_id,
            "adapter_config.json",
            endpoint=hub_clients.endpoint,
            cache_dir=hub_clients.cache_dir,
        )
    response = httpx2.head(resolve_url(hub_clients, classifier.repo_id, "main", "generation_config.json"))
    assert (response.status_code, response.headers["X-Error-Code"]) == (404, "EntryNotFound")
    assert response.headers["X-Repo-Commit"] == commit_id(classifier.v2)
    missing = cached_file(
        classifier.repo_id, "adapter_config.json", cache_dir=hub_clients.cache_dir,
        _raise_exceptions_for_missing_entries=False,
    )  # fmt: skip
    assert missing is None
    with pytest.raises(OSError, match=r"generation_config\.json"):
        GenerationConfig.from_pretrained(classifier.repo_id, cache_dir=hub_clients.cache_dir)


def test_a_bad_token_is_refused_rather_than_ignored(hub_clients, classifier, owner):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    expired = issue_token(user=owner, name="old", scope=AccessToken.Scope.READ)
    AccessToken.objects.filter(pk=expired.token.pk).update(expires_at=timezone.now() - timedelta(days=1))
    for token in ("agora_not-a-token", expired.secret):
        with pytest.raises(HfHubHTTPError) as raised:
            hf_hub_download(
                classifier.repo_id, "config.json", token=token,
                endpoint=hub_clients.endpoint, cache_dir=hub_clients.cache_dir,
            )  # fmt: skip
        assert not isinstance(raised.value, RepositoryNotFoundError)
        assert raised.value.response.status_code == 401
    response = httpx2.get(
        f"{hub_clients.endpoint}/api/models/{classifier.repo_id}", headers=bearer(expired.secret)
    )
    assert response.status_code == 401
    assert response.headers["X-Error-Message"] == "Invalid credentials in Authorization header"
    assert response.json() == {"error": "This token has expired."}


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/models/acme/nothing", 401, "RepoNotFound"),
        ("GET", "/api/models/acme/classifier/revision/v0", 404, "RevisionNotFound"),
        ("GET", "/api/models/acme/classifier/tree/main/no-such-folder", 404, "EntryNotFound"),
        ("GET", "/acme/classifier/resolve/main/no/such/file.json", 404, "EntryNotFound"),
        ("GET", "/acme/nothing/resolve/main/config.json", 401, "RepoNotFound"),
        ("POST", "/acme/classifier/resolve/main/config.json", 405, "MethodNotAllowed"),
        ("GET", "/api/datasets/acme/nothing", 401, "RepoNotFound"),
        ("HEAD", "/datasets/acme/nothing/resolve/main/train.csv", 401, "RepoNotFound"),
        ("GET", "/api/spaces/acme/demo", 404, "RepoNotFound"),
        ("GET", "/api/models/acme/classifier/discussions", 404, "NotFound"),
    ],
)
def test_every_error_carries_a_code_and_a_message(hub_clients, classifier, method, path, status, code):
    response = httpx2.request(method, hub_clients.endpoint + path)
    assert (response.status_code, response.headers["X-Error-Code"]) == (status, code)
    assert response.headers["X-Error-Message"]
    if method != "HEAD":
        assert response.json()["error"]


# Downloads counted, and datasets --------------------------------------------------------------------------


def test_a_model_download_counts_once_per_load_and_shows_on_the_model_page(
    hub_clients, classifier, outsider_token, client, owner
):
    from huggingface_hub import hf_hub_download

    options = {"endpoint": hub_clients.endpoint, "cache_dir": hub_clients.cache_dir}
    hf_hub_download(classifier.repo_id, "config.json", token=outsider_token, **options)
    hf_hub_download(classifier.repo_id, "model.safetensors", token=outsider_token, **options)
    hf_hub_download(classifier.repo_id, "config.json", token=outsider_token, **options)  # cached: a HEAD only
    assert list(
        Download.objects.values_list("model__slug", "path", "user__username", "cross_organization")
    ) == [("classifier", "config.json", "outsider", True)]
    assert hub_clients.api().model_info(classifier.repo_id).downloads == 1
    client.force_login(owner)
    assert "1 download<" in client.get(classifier.model.get_absolute_url()).content.decode()


def test_dataset_files_download_at_main_and_at_a_version(hub_clients, make_dataset_version, owner_token):
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    first = make_dataset_version(visibility=Visibility.PUBLIC)
    options = {"repo_type": "dataset", "endpoint": hub_clients.endpoint, "cache_dir": hub_clients.cache_dir}
    train = first.files.get(split="train")
    path = hf_hub_download("acme/reviews", train.path, revision="v1", **options)
    assert Path(path).read_bytes() == blobs.read_verified(train.blob)
    assert Path(path).parent.name == dataset_commit_id(first)
    assert Path(hf_hub_download("acme/reviews", train.path, **options)).read_bytes() == blobs.read_verified(
        train.blob
    )
    info = hub_clients.api().dataset_info("acme/reviews")
    assert info.sha == dataset_commit_id(first)
    source = first.files.get(split="source")
    assert {s.rfilename for s in info.siblings} >= {train.path, f"source/{source.path}"}
    assert info.card_data.configs[0]["data_files"][0] == {"split": "train", "path": train.path}
    # The second call found the file in its cache (same ETag) and fetched nothing: one use.
    assert Download.objects.filter(dataset=first.dataset).count() == 1

    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("acme/reviews", train.path, repo_type="model", endpoint=hub_clients.endpoint)
    assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == train.blob.sha256


def test_conditional_requests_and_a_corrupted_file(hub_clients, classifier, isolated_storage):
    url = resolve_url(hub_clients, classifier.repo_id, "v1", "config.json")
    etag = httpx2.head(url).headers["ETag"]
    unchanged = httpx2.get(url, headers={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content, unchanged.headers["ETag"]) == (304, b"", etag)
    assert httpx2.get(f"{hub_clients.endpoint}/api/models/{classifier.repo_id}/tree/v1/").status_code == 200

    # A full download is checked against the file's SHA-256: altered bytes are never served as the file.
    stored = classifier.v1.files.get(path="config.json").blob
    on_disk = isolated_storage / "blobs" / stored.storage_key
    on_disk.write_bytes(b"{}" + on_disk.read_bytes()[2:])
    corrupted = httpx2.get(url)
    assert (corrupted.status_code, corrupted.headers["X-Error-Code"]) == (500, "StorageIntegrityError")
