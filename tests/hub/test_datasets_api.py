"""Registering datasets through the API: the happy path, and every bad input as a 400 that stores nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from hub.models import AccessToken, Blob, Dataset, DatasetVersion, Role
from tests.conftest import demo_csv_bytes
from tests.factories import OrganizationFactory

URL = "/api/v1/datasets/"


def payload(file: SimpleUploadedFile, **overrides):
    data = {
        "organization": "acme",
        "slug": "reviews",
        "name": "Reviews",
        "license": "CC-BY-4.0",
        "text_field": "text",
        "label_field": "label",
        "file": file,
    }
    data.update(overrides)
    return data


def csv_file(content: bytes, name: str = "reviews.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


@pytest.fixture
def writer_client(owner, api_client_for):
    return api_client_for(owner)


def test_upload_makes_a_stratified_seeded_split(writer_client):
    data = payload(csv_file(demo_csv_bytes(200)), group_field="source")
    response = writer_client.post(URL, data, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["full_name"] == "acme/reviews"
    version = body["versions"][0]
    assert version["labels"] == ["negative", "positive"]
    assert version["row_counts"] == {"train": 160, "validation": 20, "test": 20}
    assert version["label_distribution"]["validation"] == {"negative": 10, "positive": 10}
    assert {f["split"] for f in version["files"]} == {"source", "train", "validation", "test"}
    # The same file and seed give the same split: the split files are the same blobs.
    again = writer_client.post(
        f"{URL}{body['id']}/versions/",
        {"file": csv_file(demo_csv_bytes(200)), "text_field": "text", "label_field": "label"},
        format="multipart",
    )
    assert again.status_code == 201, again.json()
    assert again.json()["number"] == 2
    first = {f["split"]: f["sha256"] for f in version["files"]}
    second = {f["split"]: f["sha256"] for f in again.json()["files"]}
    assert first == second


def test_split_files_download_with_their_hash(writer_client):
    body = writer_client.post(URL, payload(csv_file(demo_csv_bytes(100))), format="multipart").json()
    train = next(f for f in body["versions"][0]["files"] if f["split"] == "train")
    response = writer_client.get(train["download_url"])
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    assert content.startswith(b"text,label,source\n")
    assert content.count(b"\n") == train["rows"] + 1


@pytest.mark.parametrize(
    ("file", "overrides", "field", "fragment"),
    [
        (csv_file(b"sentence,label\nhello,a\nbye,b\n"), {}, "text_field", "'text' is not in the file"),
        (csv_file(b"text,label\nhello,a\nbye,b\n"), {"group_field": "region"}, "group_field", "'region'"),
        (csv_file(b""), {}, "file", "empty"),
        (csv_file(b"text,label\n"), {}, "file", "no rows"),
        (csv_file(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "image.csv"), {}, "file", "binary"),
        (csv_file(b"text,label\nhello,a\n", "reviews.xlsx"), {}, "file", "unsupported file type"),
        (csv_file(b"text,label\n" + b"fine,pos\n" * 30), {}, "label_field", "at least two classes"),
        (csv_file(b"text,label\nhello,a,extra\n"), {}, "file", "fields"),
        (csv_file(b"text,label\n,a\nbye,b\n"), {}, "text_field", "empty"),
        (csv_file(demo_csv_bytes(40)), {"license": "Made-Up-License"}, "license", "not a known SPDX"),
        (csv_file(demo_csv_bytes(40)), {"validation_fraction": "0.9"}, "validation_fraction", "0.5"),
        (csv_file(demo_csv_bytes(40)), {"seed": "abc"}, "seed", "integer"),
        (csv_file(demo_csv_bytes(40)), {"slug": "not a slug!"}, "slug", "slug"),
        (csv_file(b"text,label\nhello,a\nbye,b\n"), {}, "file", "too few"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    writer_client, file, overrides, field, fragment
):
    response = writer_client.post(URL, payload(file, **overrides), format="multipart")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert fragment in " ".join(errors[field]), errors
    assert Dataset.objects.count() == 0
    assert DatasetVersion.objects.count() == 0
    assert Blob.objects.count() == 0


def test_duplicate_slug_is_refused_and_keeps_the_first(writer_client):
    first = writer_client.post(URL, payload(csv_file(demo_csv_bytes(60))), format="multipart")
    assert first.status_code == 201
    blobs_before = Blob.objects.count()
    second = writer_client.post(URL, payload(csv_file(demo_csv_bytes(80))), format="multipart")
    assert second.status_code == 400
    assert "already exists" in " ".join(second.json()["slug"])
    assert DatasetVersion.objects.get().row_counts["train"] == 48
    assert Blob.objects.count() == blobs_before


def test_viewer_outsider_read_token_and_anonymous_cannot_create(
    organization, member_of, api_client_for, client
):
    viewer = member_of(organization, Role.VIEWER)
    outsider = member_of(OrganizationFactory())
    writer = member_of(organization, Role.MEMBER)
    cases = [
        (api_client_for(viewer), 403),
        (api_client_for(outsider), 403),
        (api_client_for(writer, scope=AccessToken.Scope.READ), 403),
    ]
    for api, expected in cases:
        response = api.post(URL, payload(csv_file(demo_csv_bytes(40))), format="multipart")
        assert response.status_code == expected, response.content
    assert client.post(URL, payload(csv_file(demo_csv_bytes(40)))).status_code in (401, 403)
    assert Dataset.objects.count() == 0


def test_private_datasets_are_invisible_to_outsiders(writer_client, api_client_for, member_of):
    created = writer_client.post(URL, payload(csv_file(demo_csv_bytes(40))), format="multipart").json()
    outsider = member_of(OrganizationFactory())
    outsider_api = api_client_for(outsider)
    assert outsider_api.get(URL).json()["count"] == 0
    assert outsider_api.get(f"{URL}{created['id']}/").status_code == 404
    file_id = created["versions"][0]["files"][0]["download_url"]
    assert outsider_api.get(file_id).status_code == 404


def test_the_list_page_filters_and_paginates_keeping_the_query(writer_client, owner, client):
    for i in range(27):
        response = writer_client.post(URL, payload(csv_file(demo_csv_bytes(40)), slug=f"set-{i:02d}"))
        assert response.status_code == 201
    client.force_login(owner)
    first = client.get("/datasets/", {"q": "set", "license": "CC-BY-4.0", "format": "csv"})
    page = first.content.decode()
    assert first.context["page"].paginator.count == 27 and len(first.context["datasets"]) == 25
    assert "q=set&amp;license=CC-BY-4.0&amp;format=csv&amp;page=2" in page
    assert len(client.get("/datasets/", {"q": "set", "page": 2}).context["datasets"]) == 2
    assert client.get("/datasets/", {"format": "parquet"}).context["page"].paginator.count == 0


def test_a_writer_uploads_a_version_from_the_page_and_a_viewer_may_not(
    writer_client, owner, organization, member_of, client
):
    writer_client.post(URL, payload(csv_file(demo_csv_bytes(40))))
    url = "/o/acme/datasets/reviews/versions/new/"
    client.force_login(member_of(organization, Role.VIEWER))
    assert client.get(url).status_code == 403
    client.force_login(owner)
    assert client.get(url).status_code == 200
    one_class = SimpleUploadedFile("r.jsonl", b'{"text": "a", "label": "x"}\n' * 3)
    data = {"text_field": "text", "label_field": "label", "validation_fraction": "0.1",
            "test_fraction": "0.1", "seed": "1", "file": one_class}  # fmt: skip
    refused = client.post(url, data)
    assert refused.status_code == 200 and "at least two classes" in refused.content.decode()
    data["file"] = csv_file(demo_csv_bytes(60))
    assert client.post(url, data).status_code == 302
    assert DatasetVersion.objects.filter(dataset__slug="reviews").count() == 2
