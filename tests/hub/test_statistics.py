"""Dataset statistics: exact numbers on a small known file, the task queued on commit, the page."""

from __future__ import annotations

from array import array

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from hub import tasks
from hub.models import DatasetVersion, StatisticsStatus
from hub.services import blobs
from hub.services.datasets import Upload, create_dataset
from hub.services.statistics import compute_statistics, summarize

TRAIN = b"text,label,group\naaaa,x,g1\nbb bb,y,g1\naaaa,x,g2\nc c c c c c,y,g2\n"
VALIDATION = b"text,label,group\nbb bb,y,g1\nnew text,x,g2\ndd,x,g2\n"


def as_upload(name: str, content: bytes) -> Upload:
    file = SimpleUploadedFile(name, content)
    return Upload(name=name, file=file, size=len(content))


@pytest.fixture
def version(owner, organization) -> DatasetVersion:
    return create_dataset(
        user=owner, organization=organization, slug="small", name="Small", license="MIT",
        text_field="text", label_field="label", group_field="group",
        split_uploads={"train": as_upload("t.csv", TRAIN), "validation": as_upload("v.csv", VALIDATION)},
    )  # fmt: skip


def test_statistics_of_a_small_known_file(version):
    assert version.statistics_status == StatisticsStatus.PENDING
    compute_statistics(version)
    version.refresh_from_db()
    assert version.statistics_status == StatisticsStatus.READY
    train = version.statistics["splits"]["train"]
    assert train["rows"] == 4
    assert train["labels"] == {"x": 2, "y": 2}
    assert train["groups"] == {"g1": 2, "g2": 2}
    assert train["duplicate_texts"] == 1
    assert train["empty_texts"] == 0
    assert train["characters"] == {
        "min": 4, "median": 4.5, "mean": 6.0, "max": 11,
        "histogram": {"edges": [4, 5, 6, 7, 8, 9, 10, 11, 12], "counts": [2, 1, 0, 0, 0, 0, 0, 1]},
    }  # fmt: skip
    assert train["words"] == {
        "min": 1, "median": 1.5, "mean": 2.5, "max": 6,
        "histogram": {"edges": [1, 2, 3, 4, 5, 6, 7], "counts": [2, 1, 0, 0, 0, 1]},
    }  # fmt: skip
    validation = version.statistics["splits"]["validation"]
    assert validation["labels"] == {"x": 2, "y": 1}
    assert validation["groups"] == {"g1": 1, "g2": 2}
    assert validation["duplicate_texts"] == 0
    assert validation["texts_in_train"] == 1


def test_wide_ranges_use_at_most_twenty_bins_of_equal_integer_width():
    summary = summarize(array("I", [1, 45, 3, 4]))
    histogram = summary["histogram"]
    assert histogram["edges"] == list(range(1, 47, 3))
    assert len(histogram["counts"]) == 15
    assert histogram["counts"][0] == 2 and histogram["counts"][1] == 1 and histogram["counts"][14] == 1
    assert sum(histogram["counts"]) == 4


def test_a_corrupted_file_marks_the_statistics_failed(version):
    dataset_file = version.files.get(split="train")
    blobs.blob_storage().delete(dataset_file.blob.storage_key)
    compute_statistics(version)
    version.refresh_from_db()
    assert version.statistics_status == StatisticsStatus.FAILED
    assert version.statistics["error"]


def test_the_task_is_queued_when_the_version_commits_and_computes_them(
    owner, organization, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.compute_dataset_statistics, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        version = create_dataset(
            user=owner, organization=organization, slug="small", name="Small", license="MIT",
            text_field="text", label_field="label",
            split_uploads={"train": as_upload("t.csv", TRAIN), "validation": as_upload("v.csv", VALIDATION)},
        )  # fmt: skip
    assert queued == [version.pk]
    assert tasks.compute_dataset_statistics.name == "hub.compute_dataset_statistics"
    tasks.compute_dataset_statistics.apply(args=[version.pk])
    version.refresh_from_db()
    assert version.statistics_status == StatisticsStatus.READY


def test_the_page_says_pending_then_draws_the_histogram_and_the_api_exposes_them(
    version, owner, client, api_client_for
):
    client.force_login(owner)
    url = version.dataset.get_absolute_url()
    assert "being computed" in client.get(url).content.decode()
    compute_statistics(version)
    page = client.get(url).content.decode()
    assert "<svg" in page and "11 to 11 characters: 1 rows" in page
    body = api_client_for(owner).get(f"/api/v1/dataset-versions/{version.pk}/").json()
    assert body["statistics_status"] == "ready"
    assert body["statistics"]["splits"]["train"]["duplicate_texts"] == 1
