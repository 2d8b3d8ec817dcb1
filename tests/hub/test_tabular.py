"""Reading and splitting tables: exact bytes per split, determinism, and bounded memory."""

from __future__ import annotations

import io
import random
import tracemalloc

import pytest
from django.core.exceptions import ValidationError

from hub import tabular
from hub.models import FileFormat

SCHEMA = tabular.Schema("text", "label")


def scan_bytes(data: bytes, name: str = "data.csv", **kwargs) -> tabular.Scan:
    return tabular.scan(io.BytesIO(data), name, SCHEMA, **kwargs)


def split_bytes(data: bytes, name: str, assignment: bytes, tmp_path) -> list[bytes]:
    source = io.BytesIO(data)
    result = tabular.scan(source, name, SCHEMA)
    spools = tabular.write_splits(source, result, bytearray(assignment), tmp_path)
    try:
        return [spool.read() for spool in spools]
    finally:
        for spool in spools:
            spool.close()


def test_csv_rows_keep_their_bytes_quoting_and_embedded_newlines(tmp_path):
    data = b'\xef\xbb\xbftext,label\r\n"two\nlines, quoted",a\r\nplain,b\r\n\r\nlast,a'
    train, validation, test = split_bytes(data, "d.csv", bytes([0, 1, 0]), tmp_path)
    assert train == b'text,label\r\n"two\nlines, quoted",a\r\nlast,a\n'
    assert validation == b"text,label\r\nplain,b\r\n"
    assert test == b"text,label\r\n"


def test_jsonl_rows_are_copied_line_for_line(tmp_path):
    data = b'{"text": "caf\xc3\xa9", "label": 1, "meta": {"x": [1]}}\n\n{"text": "b", "label": 0}\n'
    train, validation, _ = split_bytes(data, "d.jsonl", bytes([1, 0]), tmp_path)
    assert validation == b'{"text": "caf\xc3\xa9", "label": 1, "meta": {"x": [1]}}\n'
    assert train == b'{"text": "b", "label": 0}\n'
    rows = list(tabular.iter_values(io.BytesIO(validation), FileFormat.JSONL))
    assert rows == [{"text": "café", "label": "1", "meta": '{"x": [1]}'}]


def test_tsv_and_labels_are_stripped():
    result = scan_bytes(b"text\tlabel\nhello\t pos \nbye\tneg\n", "d.tsv")
    assert result.format == FileFormat.TSV
    assert result.label_counts == {"pos": 1, "neg": 1}


@pytest.mark.parametrize(
    ("data", "name", "field", "fragment"),
    [
        (b"text,label\nok,a\n\xff\xfe,b\n", "d.csv", "file", "not UTF-8"),
        (
            b'{"text": "a", "label": "x"}\n{"text": "b", "label": \n',
            "d.jsonl",
            "file",
            "line 2 is not valid JSON",
        ),
        (b'["text", "label"]\n', "d.jsonl", "file", "not an object"),
        (b'{"text": "a", "label": "x"}\n{"label": "y"}\n', "d.jsonl", "text_field", "line 2 has no 'text'"),
        (b'{"body": "a", "label": "x"}\n', "d.jsonl", "text_field", "'text' is not in the file"),
        (b"PAR1 this is not parquet", "d.parquet", "file", "not a readable Parquet"),
        (b"   \n  ", "d.csv", "file", "empty"),
        (b"text,label\nok,\n", "d.csv", "label_field", "empty 'label'"),
    ],
)
def test_each_bad_file_names_its_field(data, name, field, fragment):
    with pytest.raises(ValidationError) as caught:
        scan_bytes(data, name)
    assert fragment in " ".join(caught.value.message_dict[field])


def test_a_split_file_field_is_named_in_errors():
    with pytest.raises(ValidationError) as caught:
        scan_bytes(b"", "train.csv", field="train_file")
    assert "train_file" in caught.value.message_dict


def test_stratified_assignment_is_seeded_and_keeps_label_shares():
    labels = [i % 2 for i in range(1000)]
    first = tabular.stratified_assignment(labels, ["a", "b"], 0.1, 0.2, seed=7)
    assert first == tabular.stratified_assignment(labels, ["a", "b"], 0.1, 0.2, seed=7)
    assert first != tabular.stratified_assignment(labels, ["a", "b"], 0.1, 0.2, seed=8)
    for code, expected in ((0, 350), (1, 50), (2, 100)):
        assert sum(1 for i, c in enumerate(first) if c == code and labels[i] == 0) == expected


def test_parsing_a_50_mb_csv_holds_positions_not_rows(tmp_path):
    """Scan, split and write a ~50 MB CSV under tracemalloc.

    The scan keeps 14 bytes a row (label id, byte offset, length) and the split 5 more (per-label
    indices, one split code); rows here average ~100 bytes, so the held arrays are ~20% of the file.
    A quarter of the file size leaves room for buffers and array growth, while any design that
    holds the rows (Python strings and dicts: several times the file size) fails by far.
    """
    path = tmp_path / "big.csv"
    rng = random.Random(0)
    words = ["the", "a", "good", "bad", "movie", "phone", "service", "food", "was", "not", "great", "fine"]
    rows = 0
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("text,label,source\n")
        while handle.tell() < 50 * 1024 * 1024:
            text = " ".join(rng.choice(words) for _ in range(18))
            handle.write(f"{text},{rng.choice(['pos', 'neg'])},{rng.choice('abc')}\n")
            rows += 1
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with open(path, "rb") as source:
            result = tabular.scan(source, "big.csv", tabular.Schema("text", "label", "source"))
            assignment = tabular.stratified_assignment(result.label_ids, result.label_names, 0.1, 0.1, 42)
            spools = tabular.write_splits(source, result, assignment, tmp_path / "work")
            written = sum(spool.seek(0, io.SEEK_END) for spool in spools)
            for spool in spools:
                spool.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.rows == rows
    assert written == size + 2 * len(b"text,label,source\n")  # each split has the header
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte file"
