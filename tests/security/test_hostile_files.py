"""Hostile files: pickles that run code, archive bombs and archives with links or devices, safetensors
headers that lie, request bodies shorter than they claim, and tables built to exhaust the parser. Each is
refused with a clear error, in bounded time and memory, and nothing is stored."""

from __future__ import annotations

import ast
import gzip
import io
import json
import os
import pickle
import shutil
import struct
import tarfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from hub import tabular
from hub.archives import ArchiveLimits, extract_archive
from hub.checkpoint_files import read_safetensors_header
from hub.models import Blob, Dataset, ModelVersion, RegisteredModel
from tests.conftest import demo_csv_bytes

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
GiB = 1024 * MiB


def stored_nothing() -> bool:
    return not (RegisteredModel.objects.exists() or ModelVersion.objects.exists() or Blob.objects.exists())


def incoming_files(storage: Path) -> list[Path]:
    incoming = storage / "blobs" / ".incoming"
    return [path for path in incoming.rglob("*") if path.is_file()] if incoming.exists() else []


def measured(call):
    """(result or exception, seconds, peak bytes allocated by Python) of call()."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome = call()
    except Exception as exc:  # the refusals are what is measured
        outcome = exc
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, elapsed, peak


@pytest.fixture
def writer(owner, api_client_for):
    return api_client_for(owner)


@pytest.fixture
def checkpoint(small_checkpoint):
    return sorted(
        (p.relative_to(small_checkpoint).as_posix(), p.read_bytes())
        for p in small_checkpoint.rglob("*")
        if p.is_file()
    )


MODEL_FIELDS = {"organization": "acme", "slug": "tiny", "name": "Tiny", "license": "MIT"}


def upload_model(client, files=None, archive=None, **fields):
    body = {**MODEL_FIELDS, **fields}
    if files is not None:
        body["files"] = [SimpleUploadedFile(name.rsplit("/", 1)[-1], content) for name, content in files]
        body["paths"] = [name for name, _ in files]
    if archive is not None:
        body["archive"] = SimpleUploadedFile("model.tar.gz", archive)
    return client.post("/api/v1/models/", body, format="multipart")


def tar_gz(members) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# Pickles


class CreatesMarker:
    """Unpickling this creates a folder: proof that loading ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "pickle-ran"


@pytest.fixture
def payload(marker) -> bytes:
    return pickle.dumps({"weight": CreatesMarker(marker)})


def test_the_payload_really_runs_code_when_unpickled(payload, marker):
    pickle.loads(payload)  # noqa: S301 (the point: this is what the registry must never do)
    assert marker.is_dir()


@pytest.mark.parametrize("name", ["pytorch_model.bin", "model.pkl", "model.pt", "last.ckpt", "model.joblib"])
def test_an_uploaded_pickle_is_refused_and_never_loaded(writer, checkpoint, payload, marker, name):
    response = upload_model(writer, files=[*checkpoint, (name, payload)])
    assert response.status_code == 400
    assert "pickle weights are refused" in json.dumps(response.json()["files"])
    archived = upload_model(writer, archive=tar_gz([*checkpoint, (f"weights/{name}", payload)]))
    assert archived.status_code == 400
    assert "pickle weights are refused" in json.dumps(archived.json()["archive"])
    assert not marker.exists() and stored_nothing()


def test_a_pickle_named_like_safetensors_is_refused_as_corrupted(writer, checkpoint, payload, marker):
    files = [(name, payload if name == "model.safetensors" else content) for name, content in checkpoint]
    response = upload_model(writer, files=files)
    assert response.status_code == 400
    assert "corrupted safetensors" in json.dumps(response.json()["files"])
    assert not marker.exists() and stored_nothing()


def test_import_checkpoint_refuses_a_pickle(owner, small_checkpoint, payload, marker):
    (small_checkpoint / "pytorch_model.bin").write_bytes(payload)
    with pytest.raises(CommandError, match="pickle weights are refused"):
        call_command("import_checkpoint", str(small_checkpoint), org="acme", slug="x", license="MIT",
                     user="owner", stdout=io.StringIO())  # fmt: skip
    assert not marker.exists() and stored_nothing()


def unsafe_loads(tree: ast.AST) -> list[str]:
    """Calls that unpickle: pickle/dill/cloudpickle/joblib load(s), torch.load without weights_only=True,
    numpy.load with allow_pickle=True."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        keywords = {k.arg: k.value for k in node.keywords}
        last = name.rsplit(".", 1)[-1]
        module = name.rsplit(".", 1)[0] if "." in name else ""
        unpickler = module in {"pickle", "_pickle", "dill", "cloudpickle", "joblib"}
        if (unpickler and last in {"load", "loads", "Unpickler"}) or name == "Unpickler":
            found.append(name)
        elif module == "torch" and last == "load":
            weights_only = keywords.get("weights_only")
            if not (isinstance(weights_only, ast.Constant) and weights_only.value is True):
                found.append(f"{name} without weights_only=True")
        elif module in {"numpy", "np"} and last == "load":
            allow = keywords.get("allow_pickle")
            if allow is not None and not (isinstance(allow, ast.Constant) and allow.value is False):
                found.append(f"{name} with allow_pickle")
    # ``from pickle import load`` then load(...)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in {"pickle", "dill", "joblib", "cloudpickle"}:
            found.extend(f"from {node.module} import {a.name}" for a in node.names if "load" in a.name)
    return found


def test_no_module_of_the_apps_unpickles():
    offenders = {}
    for app in ("hub", "governance", "training"):
        for path in (REPO / app).rglob("*.py"):
            found = unsafe_loads(ast.parse(path.read_text(), filename=str(path)))
            if found:
                offenders[str(path.relative_to(REPO))] = found
    assert offenders == {}


def test_the_unpickling_detector_finds_each_form():
    source = """
import pickle, torch, numpy as np, joblib
pickle.load(f); pickle.loads(b); torch.load(p); torch.load(p, weights_only=False); joblib.load(p)
np.load(p, allow_pickle=True)
torch.load(p, weights_only=True); np.load(p); np.load(p, allow_pickle=False)
from pickle import loads
"""
    assert unsafe_loads(ast.parse(source)) == [
        "pickle.load", "pickle.loads", "torch.load without weights_only=True",
        "torch.load without weights_only=True", "joblib.load", "np.load with allow_pickle",
        "from pickle import loads",
    ]  # fmt: skip


# Archive bombs


class Zeros(io.RawIOBase):
    """``size`` zero bytes, produced as read (a tar member's content without holding it)."""

    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    """A zip and a tar.gz each holding 1 GiB of zeros (about 1 MiB on disk), and a zip holding that zip."""
    folder = tmp_path_factory.mktemp("bombs")
    chunk = bytes(MiB)
    zip_bomb = folder / "zeros.zip"
    with (
        zipfile.ZipFile(zip_bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("zeros.bin", "w", force_zip64=True) as member,
    ):
        for _ in range(1024):
            member.write(chunk)
    tar_bomb = folder / "zeros.tar.gz"
    with (
        gzip.open(tar_bomb, "wb", compresslevel=1) as compressed,
        tarfile.open(fileobj=compressed, mode="w|") as archive,
    ):
        info = tarfile.TarInfo("zeros.bin")
        info.size = GiB
        archive.addfile(info, Zeros(GiB))
    nested = folder / "nested.zip"
    with zipfile.ZipFile(nested, "w") as archive:
        archive.write(zip_bomb, "inner.zip")
    return {"zip": zip_bomb, "tar": tar_bomb, "nested": nested}


def largest_file(folder: Path) -> int:
    return max((path.stat().st_size for path in folder.rglob("*") if path.is_file()), default=0)


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_a_gigabyte_of_zeros_is_refused_by_the_ratio_limit_at_default_settings(bombs, kind, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    limits = ArchiveLimits.from_settings()
    assert limits.max_bytes > GiB  # the size limit alone would let it through: the ratio refuses it
    refused, seconds, peak = measured(lambda: extract_archive(bombs[kind], out, limits))
    assert isinstance(refused, ValidationError) and "compression-ratio" in str(refused)
    assert seconds < 10 and peak < 32 * MiB
    assert largest_file(out) <= bombs[kind].stat().st_size * limits.max_ratio


def test_a_bomb_uploaded_through_the_api_is_refused_and_nothing_is_left(writer, bombs, isolated_storage):
    response = upload_model(writer, archive=bombs["zip"].read_bytes())
    assert response.status_code == 400 and "compression-ratio" in json.dumps(response.json()["archive"])
    assert stored_nothing() and incoming_files(isolated_storage) == []


def test_a_nested_zip_is_not_unpacked_recursively(bombs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    digests = extract_archive(bombs["nested"], out, ArchiveLimits.from_settings())
    assert list(digests) == ["inner.zip"]
    assert largest_file(out) == bombs["zip"].stat().st_size


def test_many_members_are_refused_before_zipfile_reads_its_directory(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(20_000):
            archive.writestr(f"f{index}", b"")
    out = tmp_path / "out"
    out.mkdir()
    limits = ArchiveLimits(max_bytes=GiB, max_members=10_000, max_ratio=200)
    refused, seconds, peak = measured(lambda: extract_archive(path, out, limits))
    assert isinstance(refused, ValidationError) and "more than 10000 members" in str(refused)
    # zipfile would build 20,000 ZipInfo objects (several MiB) to read the directory.
    assert seconds < 10 and peak < MiB
    assert not any(out.iterdir())


def test_many_tar_members_are_refused(tmp_path):
    path = tmp_path / "many.tar.gz"
    path.write_bytes(tar_gz([(f"f{index}", b"") for index in range(30)]))
    with pytest.raises(ValidationError, match="more than 20 members"):
        extract_archive(path, tmp_path, ArchiveLimits(max_bytes=GiB, max_members=20, max_ratio=200))


@pytest.mark.parametrize("header_type", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_a_huge_tar_extended_header_is_refused_before_it_is_read_into_memory(tmp_path, header_type):
    path = tmp_path / "pax.tar.gz"
    with gzip.open(path, "wb", compresslevel=1) as compressed:
        header = tarfile.TarInfo("././@PaxHeader")
        header.type, header.size = header_type, 200 * MiB
        compressed.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        for _ in range(200):
            compressed.write(bytes(MiB))
        compressed.write(bytes(1024))
    out = tmp_path / "out"
    out.mkdir()
    refused, seconds, peak = measured(lambda: extract_archive(path, out, ArchiveLimits.from_settings()))
    assert isinstance(refused, ValidationError) and "extended header" in str(refused)
    assert seconds < 10 and peak < 16 * MiB


def test_the_size_limit_applies_to_uploads(writer, checkpoint, settings):
    settings.AGORA_ARCHIVE_MAX_BYTES = 64 * 1024
    response = upload_model(writer, archive=tar_gz(checkpoint))
    assert response.status_code == 400 and "65536 bytes in all" in json.dumps(response.json()["archive"])
    assert stored_nothing()


# Links, devices and escaping members


def special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


TAR_MEMBERS = {
    "symlink": (special("link", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
    "symlink-dir": (special("sub", tarfile.SYMTYPE, "../../.."), "is a link"),
    "hardlink": (special("hard", tarfile.LNKTYPE, "/etc/passwd"), "is a link"),
    "char-device": (special("tty", tarfile.CHRTYPE), "device"),
    "block-device": (special("sda", tarfile.BLKTYPE), "device"),
    "fifo": (special("pipe", tarfile.FIFOTYPE), "device"),
    "dotdot": (tarfile.TarInfo("../escaped"), "'..'"),
    "absolute": (tarfile.TarInfo("/tmp/escaped"), "absolute"),
}


@pytest.mark.parametrize("case", TAR_MEMBERS, ids=TAR_MEMBERS)
def test_tar_links_devices_and_escaping_members_are_refused(writer, checkpoint, case, tmp_path):
    info, fragment = TAR_MEMBERS[case]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in checkpoint:
            member = tarfile.TarInfo(name)
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
        archive.addfile(info, io.BytesIO(b"") if info.isreg() else None)
    response = upload_model(writer, archive=buffer.getvalue())
    assert response.status_code == 400
    assert fragment in json.dumps(response.json()["archive"])
    assert stored_nothing()
    assert not (tmp_path.parent / "escaped").exists() and not Path("/tmp/escaped").exists()


def zip_with(name: str, content: bytes = b"x", mode: int | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", b"{}")
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        archive.writestr(info, content)
    return buffer.getvalue()


ZIP_MEMBERS = {
    "symlink": (zip_with("link", b"/etc/passwd", 0o120777), "link"),
    "char-device": (zip_with("tty", b"", 0o020666), "special file"),
    "fifo": (zip_with("pipe", b"", 0o010644), "special file"),
    "dotdot": (zip_with("../escaped"), "'..'"),
    "absolute": (zip_with("/tmp/escaped"), "absolute"),
    "nul": (zip_with("okXX/../../escaped").replace(b"okXX", b"ok\x00X"), "NUL"),
}


@pytest.mark.parametrize("case", ZIP_MEMBERS, ids=ZIP_MEMBERS)
def test_zip_links_devices_and_escaping_members_are_refused(case, tmp_path):
    data, fragment = ZIP_MEMBERS[case]
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValidationError, match=fragment):
        extract_archive(path, out, ArchiveLimits.from_settings())
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped").exists()
    assert {p.name for p in out.rglob("*")} <= {"config.json"}


# Safetensors headers that lie


def safetensors(header: object, data: bytes = b"", *, declared: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw + data


def tensor(dtype="F32", shape=(2,), offsets=(0, 8)) -> dict:
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


LYING_HEADERS = {
    "length-past-the-end": (safetensors({"a": tensor()}, bytes(8), declared=10_000), "does not fit"),
    "offsets-past-the-end": (safetensors({"a": tensor(offsets=(8, 16))}, bytes(8)), "gap"),
    "data-past-the-tensors": (safetensors({"a": tensor()}, bytes(16)), "cover 8 bytes"),
    "overlapping": (safetensors({"a": tensor(), "b": tensor(offsets=(4, 12))}, bytes(12)), "overlaps"),
    "same-range-twice": (safetensors({"a": tensor(), "b": tensor()}, bytes(8)), "overlaps"),
    "shape-mismatch": (safetensors({"a": tensor(shape=(3,))}, bytes(8)), "do not match"),
    "dtype-mismatch": (safetensors({"a": tensor(dtype="F64")}, bytes(8)), "do not match"),
    "unknown-dtype": (safetensors({"a": tensor(dtype="F128")}, bytes(8)), "unknown dtype"),
    "dtype-not-text": (safetensors({"a": {**tensor(), "dtype": ["F32"]}}, bytes(8)), "unknown dtype"),
    "negative-shape": (safetensors({"a": tensor(shape=(-2, -1))}, bytes(8)), "non-negative integers"),
    "text-shape": (safetensors({"a": tensor(shape=("2",))}, bytes(8)), "non-negative integers"),
    "bool-shape": (safetensors({"a": tensor(shape=(True, 2))}, bytes(8)), "non-negative integers"),
    "text-offsets": (safetensors({"a": tensor(offsets=("0", "8"))}, bytes(8)), "two non-negative"),
    "three-offsets": (safetensors({"a": tensor(offsets=(0, 4, 8))}, bytes(8)), "two non-negative"),
    "reversed-offsets": (safetensors({"a": tensor(offsets=(8, 0))}, bytes(8)), "do not match"),
    "missing-fields": (safetensors({"a": {"dtype": "F32"}}, bytes(8)), "lacks"),
    "not-json": (safetensors(b"\x80\x04not json at all"), "not valid JSON"),
    "not-an-object": (safetensors([1, 2]), "not a JSON object"),
    "deeply-nested": (safetensors(b"[" * 100_000 + b"]" * 100_000), "not valid JSON"),
    "too-short": (b"\x01\x02", "shorter than"),
}


@pytest.mark.parametrize("case", LYING_HEADERS, ids=LYING_HEADERS)
def test_a_lying_safetensors_header_is_refused(tmp_path, case):
    data, fragment = LYING_HEADERS[case]
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=fragment):
        read_safetensors_header(path)


def test_an_honest_header_passes(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(
        safetensors({"a": tensor(), "b": tensor("F16", (2, 2), (8, 16)), "__metadata__": {}}, bytes(16))
    )
    assert set(read_safetensors_header(path)) == {"a", "b", "__metadata__"}


def test_a_100_mb_declared_header_is_refused_without_reading_it(tmp_path):
    path = tmp_path / "model.safetensors"
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", 100 * MiB) + b"{")
        handle.truncate(8 + 100 * MiB + 64)  # sparse: the file is long enough for the header it declares
    refused, seconds, peak = measured(lambda: read_safetensors_header(path))
    assert isinstance(refused, ValueError) and "larger than" in str(refused)
    assert seconds < 1 and peak < MiB


def test_a_lying_header_in_an_upload_is_a_400_on_files(writer, checkpoint):
    lying = LYING_HEADERS["overlapping"][0]
    files = [(name, lying if name == "model.safetensors" else content) for name, content in checkpoint]
    response = upload_model(writer, files=files)
    assert response.status_code == 400
    assert "overlaps" in json.dumps(response.json()["files"])
    assert stored_nothing()


# Request bodies shorter than their Content-Length


def short_multipart(fields: dict, filename: str, content: bytes, *, complete: bool) -> tuple[bytes, str]:
    boundary = "hostileboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    body = (
        "".join(parts).encode()
        + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
    )
    if complete:
        body += f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


DATASET_FIELDS = {"organization": "acme", "slug": "reviews", "name": "Reviews", "license": "MIT",
                  "text_field": "text", "label_field": "label"}  # fmt: skip


@pytest.mark.parametrize("complete", [True, False], ids=["complete-body", "cut-body"])
@pytest.mark.parametrize("url", ["/api/v1/datasets/", "/api/v1/models/", "/datasets/new/", "/models/new/"])
def test_a_body_shorter_than_its_content_length_is_a_quick_400(
    client, owner, api_client_for, url, complete, isolated_storage
):
    body, content_type = short_multipart(DATASET_FIELDS, "reviews.csv", demo_csv_bytes(40), complete=complete)
    caller = client if not url.startswith("/api/") else api_client_for(owner)
    if caller is client:
        client.force_login(owner)
    started = time.monotonic()
    response = caller.generic(
        "POST", url, b"", content_type=content_type,
        **{"CONTENT_TYPE": content_type, "CONTENT_LENGTH": "10737418240", "wsgi.input": io.BytesIO(body)},
    )  # fmt: skip
    assert time.monotonic() - started < 10
    assert response.status_code == 400, response.content[:300]
    if url.startswith("/api/"):
        assert "Content-Length" in response.json()["detail"]
    assert not Dataset.objects.exists() and stored_nothing()
    assert incoming_files(isolated_storage) == []


# Tables built to exhaust the parser


def dataset_upload(writer, name: str, data: bytes):
    return writer.post(
        "/api/v1/datasets/", {**DATASET_FIELDS, "file": SimpleUploadedFile(name, data)}, format="multipart"
    )


def scan_measured(name: str, data: bytes):
    schema = tabular.Schema("text", "label")
    return measured(lambda: tabular.scan(io.BytesIO(data), name, schema))


VALID = demo_csv_bytes(40)
LATIN1_INSIDE = VALID + "café,positive\n".encode("latin-1") + VALID.split(b"\n", 1)[1]
DEEP = b"[" * 200_000 + b"]" * 200_000
MANY_KEYS = json.dumps({f"k{i}": 1 for i in range(20_000)}).encode() + b"\n"


@pytest.mark.parametrize(
    ("case", "data", "fragment"),
    [
        ("50-mb-cell", b"text,label\n" + b"a" * (50 * MiB) + b",x\n", "longer than"),
        ("50-mb-quoted-cell", b'text,label\n"' + (b"a" * 1000 + b"\n") * 50_000 + b'",x\n', "field larger"),
        ("million-columns", ",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\n", "fields"),
        ("wide-row", VALID.split(b"\n")[0] + b"\n" + b"x," * 2_000_000 + b"x\n", "fields"),
    ],
)
def test_huge_cells_and_columns_are_refused_in_bounded_memory(case, data, fragment):
    refused, seconds, peak = scan_measured("data.csv", data)
    assert isinstance(refused, ValidationError) and fragment in str(refused), refused
    assert "file" in refused.message_dict
    assert seconds < 10
    # The file is in memory already; parsing adds less than its size again (no list of a million fields).
    assert peak < 40 * MiB + len(data) // 2


@pytest.mark.parametrize(
    ("case", "name", "data", "fragment"),
    [
        ("invalid-utf8", "d.csv", b"text,label\n\xff\xfe bad,x\n", "not UTF-8 text (line 2"),
        ("latin1-in-the-middle", "d.csv", LATIN1_INSIDE, "not UTF-8 text (line 42"),
        ("nul-bytes", "d.csv", b"text,label\nab\x00cd,x\n", "binary"),
        ("nul-after-64k", "d.csv", VALID + b"a" * 70_000 + b"\x00,positive\n", "NUL byte"),
        ("jsonl-deep-array", "d.jsonl", DEEP + b"\n", "nested too deeply"),
        ("jsonl-deep-value", "d.jsonl", b'{"text": ' + DEEP + b', "label": "a"}\n', "nested too deeply"),
        ("jsonl-huge-number", "d.jsonl", b'{"text": ' + b"9" * 100_000 + b', "label": "a"}\n', "too long"),
        ("jsonl-many-keys", "d.jsonl", MANY_KEYS, "keys"),
    ],
)  # fmt: skip
def test_malformed_text_is_a_400_naming_the_file_field(writer, case, name, data, fragment):
    started = time.monotonic()
    response = dataset_upload(writer, name, data)
    assert time.monotonic() - started < 10
    assert response.status_code == 400, response.content[:300]
    assert fragment in json.dumps(response.json()["file"]), response.json()
    assert not Dataset.objects.exists() and not Blob.objects.exists()


def test_a_bom_is_accepted_and_not_part_of_the_first_column(writer):
    response = dataset_upload(writer, "reviews.csv", b"\xef\xbb\xbf" + VALID)
    assert response.status_code == 201, response.content[:300]
    version = Dataset.objects.get().versions.get()
    assert version.text_field == "text"
    source = version.files.get(split="source")
    from hub.services.blobs import read_verified

    assert read_verified(source.blob).startswith(b"\xef\xbb\xbf")  # what was sent is what is kept
    train = version.files.get(split="train")
    assert read_verified(train.blob).startswith(b"text,label")  # the header line, without the BOM


@pytest.fixture(autouse=True)
def _no_leftover_work(settings):
    yield
    shutil.rmtree(settings.AGORA_WORK_DIR, ignore_errors=True)
