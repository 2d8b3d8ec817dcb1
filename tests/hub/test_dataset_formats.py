"""Every file format and given splits through the API, and each bad input as a 400 that stores nothing."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from hub.models import Blob, Dataset, DatasetVersion
from hub.services.datasets import read_split
from tests.conftest import demo_csv_bytes

URL = "/api/v1/datasets/"


def demo_rows(n: int) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(demo_csv_bytes(n).decode())))


def encode(rows: list[dict], fmt: str) -> bytes:
    if fmt in ("csv", "tsv"):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), delimiter="," if fmt == "csv" else "\t",
                                lineterminator="\n")  # fmt: skip
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode()
    if fmt == "jsonl":
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer, row_group_size=37)
    return buffer.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def fields(**overrides):
    data = {"organization": "acme", "slug": "reviews", "name": "Reviews", "license": "CC-BY-4.0",
            "text_field": "text", "label_field": "label"}  # fmt: skip
    data.update(overrides)
    return data


@pytest.fixture
def writer_client(owner, api_client_for):
    return api_client_for(owner)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_each_format_is_split_stored_in_its_format_and_read_back(writer_client, fmt):
    rows = demo_rows(100)
    response = writer_client.post(
        URL,
        fields(file=upload(f"reviews.{fmt}", encode(rows, fmt)), group_field="source"),
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    version = response.json()["versions"][0]
    assert version["row_counts"] == {"train": 80, "validation": 10, "test": 10}
    assert version["statistics_status"] == "pending"
    files = {f["split"]: f for f in version["files"]}
    assert files["source"]["path"] == f"reviews.{fmt}"
    assert files["train"]["path"] == f"train.{fmt}"
    assert {f["format"] for f in files.values()} == {fmt}
    download = writer_client.get(files["validation"]["download_url"])
    assert download.status_code == 200
    assert len(b"".join(download.streaming_content)) == files["validation"]["size"]
    stored = DatasetVersion.objects.get(pk=version["id"])
    train = read_split(stored, "train")
    assert len(train) == 80
    assert all(isinstance(row["text"], str) and row["label"] in ("negative", "positive") for row in train)
    texts = {row["text"] for name in ("train", "validation", "test") for row in read_split(stored, name)}
    assert texts == {row["text"] for row in rows}


def test_the_same_parquet_and_seed_give_the_same_split_files(writer_client):
    content = encode(demo_rows(60), "parquet")
    first = writer_client.post(URL, fields(file=upload("r.parquet", content)), format="multipart").json()
    again = writer_client.post(
        f"{URL}{first['id']}/versions/",
        {"file": upload("r.parquet", content), "text_field": "text", "label_field": "label"},
        format="multipart",
    ).json()
    hashes = [{f["split"]: f["sha256"] for f in body["files"]} for body in (first["versions"][0], again)]
    assert hashes[0] == hashes[1]


def test_given_splits_are_stored_as_uploaded(writer_client):
    rows = demo_rows(60)
    train, validation, test = (
        encode(rows[:40], "csv"),
        encode(rows[40:50], "jsonl"),
        encode(rows[50:], "parquet"),
    )
    response = writer_client.post(
        URL,
        fields(train_file=upload("a.csv", train), validation_file=upload("b.jsonl", validation),
               test_file=upload("c.parquet", test)),
        format="multipart",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    version = response.json()["versions"][0]
    assert version["row_counts"] == {"train": 40, "validation": 10, "test": 10}
    assert version["split_seed"] is None and version["split_proportions"] == {}
    assert version["labels"] == ["negative", "positive"]
    files = {f["split"]: f for f in version["files"]}
    assert set(files) == {"train", "validation", "test"}
    assert (files["validation"]["path"], files["validation"]["format"]) == ("validation.jsonl", "jsonl")
    content = b"".join(writer_client.get(files["train"]["download_url"]).streaming_content)
    assert content == train
    assert len(read_split(DatasetVersion.objects.get(), "test")) == 10


def bad_parquet() -> bytes:
    return b"PAR1" + b"\x00" * 64 + b"PAR1"


def one_class_jsonl() -> bytes:
    return b"".join(json.dumps({"text": f"row {i}", "label": "a"}).encode() + b"\n" for i in range(20))


GOOD = encode(demo_rows(40), "csv")


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"file": upload("r.csv", b"sentence,label\nhi,a\nbye,b\n")}, "text_field", "'text' is not in"),
        ({"file": upload("r.jsonl", b'{"text": "a", "label": "x"}\n{oops}\n')}, "file", "line 2 is not"),
        ({"file": upload("r.parquet", bad_parquet())}, "file", "Parquet"),
        ({"file": upload("r.jsonl", one_class_jsonl())}, "label_field", "at least two classes"),
        ({"file": upload("r.csv", GOOD), "train_file": upload("t.csv", GOOD)}, "file", "not both"),
        ({"file": upload("r.csv", GOOD), "license": "Made-Up"}, "license", "not a known SPDX"),
        ({}, "file", "upload a file"),
        ({"train_file": upload("t.csv", GOOD)}, "validation_file", "required"),
        (
            {"train_file": upload("t.csv", GOOD),
             "validation_file": upload("v.csv", b"text,label,source\nhello,neutral,x\n")},
            "validation_file", "neutral",
        ),
        (
            {"train_file": upload("t.csv", GOOD), "validation_file": upload("v.csv", b"")},
            "validation_file", "empty",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(writer_client, overrides, field, fragment):
    response = writer_client.post(URL, fields(**overrides), format="multipart")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert fragment in " ".join(errors[field]), errors
    assert (Dataset.objects.count(), DatasetVersion.objects.count(), Blob.objects.count()) == (0, 0, 0)


def test_list_filters_by_format(writer_client):
    writer_client.post(
        URL, fields(file=upload("r.jsonl", encode(demo_rows(40), "jsonl"))), format="multipart"
    )
    writer_client.post(URL, fields(slug="other", file=upload("r.csv", GOOD)), format="multipart")
    body = writer_client.get(URL, {"file_format": "jsonl"}).json()
    assert [d["slug"] for d in body["results"]] == ["reviews"]
    assert body["results"][0]["latest_version"] == 1
