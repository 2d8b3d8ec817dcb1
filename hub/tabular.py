"""Reading labelled text tables (CSV, TSV, JSON Lines, Parquet) in bounded memory, and splitting them.

Errors are ValidationErrors naming the form field, raised before anything is stored. Files are
streamed: a scan keeps, per row, only a label id and the row's byte range (Parquet rows are
addressed by their index), about 14 bytes a row whatever the width of the text. Split files are
then written by a second sequential pass that copies each row's bytes (or Parquet batches) to its
split, so a split file holds exactly the bytes that were uploaded.
"""

from __future__ import annotations

import csv
import json
import random
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.core.exceptions import ValidationError

from hub.models import FileFormat

FORMATS = {
    ".csv": FileFormat.CSV,
    ".tsv": FileFormat.TSV,
    ".jsonl": FileFormat.JSONL,
    ".ndjson": FileFormat.JSONL,
    ".parquet": FileFormat.PARQUET,
}
DELIMITERS = {FileFormat.CSV: ",", FileFormat.TSV: "\t"}
MAX_FIELD_CHARS = 1_000_000
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_COLUMNS = 10_000
# csv builds a list of every field of a line: a 16 MB line of commas would be millions of objects.
MAX_LINE_FIELDS = 100_000
MAX_LABELS = 10_000
PEEK_BYTES = 64 * 1024
PARQUET_BATCH_ROWS = 16_384
SPLITS = ("train", "validation", "test")  # index = the split's code in an assignment
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Schema:
    text_field: str
    label_field: str
    group_field: str = ""

    @property
    def fields(self) -> list[str]:
        return [column for column in (self.text_field, self.label_field, self.group_field) if column]


@dataclass
class Row:
    line: int  # line of the file where the row starts (text formats), or row number (Parquet)
    start: int  # byte range of the row in the file (text formats only)
    length: int
    values: dict[str, str]


@dataclass
class Scan:
    """What one streaming pass learnt about a file: enough to split it without holding its rows."""

    format: str
    columns: list[str]
    header: bytes  # the CSV/TSV header line as uploaded, written at the top of each split file
    rows: int = 0
    label_counts: Counter[str] = field(default_factory=Counter)
    label_names: list[str] = field(default_factory=list)  # label id → name
    label_ids: array = field(default_factory=lambda: array("H"))
    starts: array = field(default_factory=lambda: array("Q"))
    lengths: array = field(default_factory=lambda: array("I"))


def file_format(filename: str, field: str = "file") -> str:
    name = filename.lower()
    extension = name[name.rfind(".") :] if "." in name else ""
    if extension not in FORMATS:
        raise ValidationError(
            {
                field: f"unsupported file type {extension or '(none)'!r}: upload a .csv, .tsv, .jsonl or "
                ".parquet file"
            }
        )
    return FORMATS[extension]


def cell_text(value: Any) -> str:
    """Every cell as text, the way CSV gives it: JSON and Parquet scalars keep their JSON spelling."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def open_rows(
    fileobj: BinaryIO, fmt: str, field: str = "file", columns: Sequence[str] | None = None
) -> tuple[list[str], bytes, Iterator[Row]]:
    """The columns, header bytes and a row iterator of a file. ``columns`` narrows Parquet reads."""
    fileobj.seek(0)
    if fmt == FileFormat.PARQUET:
        return _open_parquet(fileobj, field, columns)
    _check_text_start(fileobj, field)
    lines = _Lines(fileobj, field)
    if fmt == FileFormat.JSONL:
        rows = _jsonl_rows(lines, field)
        first = next(rows, None)
        if first is None:
            raise ValidationError({field: "the file has no JSON objects"})
        return list(first.values), b"", _chain(first, rows)
    return _open_delimited(lines, fmt, field)


def _chain(first: Row, rest: Iterator[Row]) -> Iterator[Row]:
    yield first
    yield from rest


def _check_text_start(fileobj: BinaryIO, field: str) -> None:
    peek = fileobj.read(PEEK_BYTES)
    fileobj.seek(0)
    if not peek.strip() and len(peek) < PEEK_BYTES:
        raise ValidationError({field: "the file is empty"})
    if b"\x00" in peek:
        raise ValidationError({field: "the file is binary, not a text file"})


class _Lines:
    """Decoded lines of a binary file, tracking the line number and the byte offset reached."""

    def __init__(self, fileobj: BinaryIO, field: str):
        self.fileobj, self.field = fileobj, field
        self.offset = 0  # bytes handed out so far
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.fileobj.readline(MAX_LINE_BYTES)
        if not raw:
            raise StopIteration
        self.number += 1
        if self.number == 1 and raw.startswith(BOM):
            self.offset += len(BOM)
            raw = raw[len(BOM) :]
        if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
            raise ValidationError({self.field: f"line {self.number} is longer than {MAX_LINE_BYTES} bytes"})
        if b"\x00" in raw:
            raise ValidationError({self.field: f"line {self.number} holds binary data (a NUL byte)"})
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                {
                    self.field: f"the file is not UTF-8 text (line {self.number}, byte "
                    f"{self.offset + exc.start} is invalid)"
                }
            ) from None
        self.offset += len(raw)
        return text


def _bounded_fields(lines: _Lines, delimiter: str, field: str) -> Iterator[str]:
    """The lines, refusing one with more delimiters than any sensible row before csv splits it."""
    for text in lines:
        if text.count(delimiter) >= MAX_LINE_FIELDS:
            raise ValidationError(
                {field: f"line {lines.number} has more than {MAX_LINE_FIELDS} fields; is it really a table?"}
            )
        yield text


def _open_delimited(lines: _Lines, fmt: str, field: str) -> tuple[list[str], bytes, Iterator[Row]]:
    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(_bounded_fields(lines, DELIMITERS[fmt], field), delimiter=DELIMITERS[fmt])
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ValidationError({field: f"line {lines.number}: {exc}"}) from None
    if not header or not any(column.strip() for column in header):
        raise ValidationError({field: "the file has no header row"})
    if len(header) > MAX_COLUMNS:
        raise ValidationError({field: f"the header has {len(header)} columns; the limit is {MAX_COLUMNS}"})
    columns = [column.strip() for column in header]
    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        raise ValidationError({field: f"duplicate column names in the header: {', '.join(duplicates)}"})
    lines.fileobj.seek(0)
    header_bytes = lines.fileobj.read(lines.offset).removeprefix(BOM)
    return columns, header_bytes, _delimited_rows(reader, lines, columns, fmt, field)


def _delimited_rows(reader, lines: _Lines, columns: list[str], fmt: str, field: str) -> Iterator[Row]:
    start, line = lines.offset, lines.number + 1
    try:
        for values in reader:
            end = lines.offset
            if values and not (len(values) == 1 and not values[0].strip()):
                if len(values) != len(columns):
                    raise ValidationError(
                        {
                            field: f"line {line} has {len(values)} fields but the header has "
                            f"{len(columns)}; is it really a {fmt.upper()} file?"
                        }
                    )
                yield Row(line, start, end - start, dict(zip(columns, values, strict=True)))
            start, line = end, lines.number + 1
    except csv.Error as exc:
        raise ValidationError({field: f"line {lines.number}: {exc}"}) from None


def _jsonl_rows(lines: _Lines, field: str) -> Iterator[Row]:
    for text in lines:
        start = lines.offset - len(text.encode("utf-8"))
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError({field: f"line {lines.number} is not valid JSON: {exc.msg}"}) from None
        except (RecursionError, ValueError):  # nesting too deep, or an integer of thousands of digits
            raise ValidationError(
                {field: f"line {lines.number} is JSON nested too deeply or with a number too long to read"}
            ) from None
        if not isinstance(value, dict):
            raise ValidationError(
                {field: f"line {lines.number} is a JSON {type(value).__name__}, not an object"}
            )
        if len(value) > MAX_COLUMNS:
            raise ValidationError({field: f"line {lines.number} has more than {MAX_COLUMNS} keys"})
        try:
            values = {k: cell_text(v) for k, v in value.items()}
        except RecursionError:
            raise ValidationError({field: f"line {lines.number} holds JSON nested too deeply"}) from None
        yield Row(lines.number, start, lines.offset - start, values)


def _open_parquet(
    fileobj: BinaryIO, field: str, columns: Sequence[str] | None
) -> tuple[list[str], bytes, Iterator[Row]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(fileobj)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError({field: f"the file is not a readable Parquet file: {exc}"}) from None
    names = list(parquet.schema_arrow.names)
    wanted = [name for name in columns if name in names] if columns is not None else None

    def rows() -> Iterator[Row]:
        number = 0
        try:
            for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted):
                for values in batch.to_pylist():
                    number += 1
                    yield Row(number, 0, 0, {k: cell_text(v) for k, v in values.items()})
        except pa.ArrowException as exc:
            message = f"the Parquet file cannot be read after row {number}: {exc}"
            raise ValidationError({field: message}) from None

    return names, b"", rows()


def scan(
    fileobj: BinaryIO, filename: str, schema: Schema, field: str = "file", positions: bool = True
) -> Scan:
    """Check a file against the declared schema in one pass; keep row positions when it will be split."""
    fmt = file_format(filename, field)
    columns, header, rows = open_rows(fileobj, fmt, field, schema.fields)
    where = "" if field == "file" else f"{field}: "
    check_columns(columns, schema, where)
    result = Scan(format=fmt, columns=columns, header=header)
    label_ids: dict[str, int] = {}
    for row in rows:
        for column, name in ((schema.text_field, "text_field"), (schema.label_field, "label_field")):
            value = row.values.get(column)
            if value is None:
                raise ValidationError({name: f"{where}line {row.line} has no {column!r}"})
            if not value.strip():
                message = f"{where}row {result.rows + 1} (line {row.line}) has an empty {column!r}"
                raise ValidationError({name: message})
        label = row.values[schema.label_field].strip()
        label_id = label_ids.get(label)
        if label_id is None:
            if len(label_ids) >= MAX_LABELS:
                raise ValidationError(
                    {"label_field": f"{where}more than {MAX_LABELS} distinct labels; is it the label column?"}
                )
            label_id = label_ids[label] = len(label_ids)
            result.label_names.append(label)
        result.label_counts[label] += 1
        result.rows += 1
        if positions:
            result.label_ids.append(label_id)
            result.starts.append(row.start)
            result.lengths.append(row.length)
    if not result.rows:
        raise ValidationError({field: "the file has a header but no rows"})
    return result


def check_columns(columns: Sequence[str], schema: Schema, where: str = "") -> None:
    errors: dict[str, str] = {}
    available = ", ".join(columns)
    for name, column in (
        ("text_field", schema.text_field),
        ("label_field", schema.label_field),
        ("group_field", schema.group_field),
    ):
        if column and column not in columns:
            errors[name] = f"{where}column {column!r} is not in the file; its columns are: {available}"
    if schema.text_field and schema.text_field == schema.label_field:
        errors["label_field"] = "the label column must differ from the text column"
    if errors:
        raise ValidationError(errors)


def require_two_classes(label_counts: Counter[str], column: str, where: str = "") -> None:
    if len(label_counts) < 2:
        only = next(iter(label_counts), "")
        raise ValidationError(
            {"label_field": f"{where}column {column!r} needs at least two classes; it has only {only!r}"}
        )


def stratified_assignment(
    label_ids: Sequence[int], label_names: Sequence[str], validation_fraction: float, test_fraction: float,
    seed: int,
) -> bytearray:  # fmt: skip
    """Each row's split code (see SPLITS), per label, reproducibly from the seed.

    Labels are visited in sorted order and each label's rows shuffled with one seeded generator,
    so the same file and seed always give the same split.
    """
    by_label = [array("I") for _ in label_names]
    for index, label_id in enumerate(label_ids):
        by_label[label_id].append(index)
    rng = random.Random(seed)  # noqa: S311 (reproducible splits, not secrets)
    assignment = bytearray(len(label_ids))  # 0: train
    for label_id in sorted(range(len(label_names)), key=label_names.__getitem__):
        indices = by_label[label_id]
        rng.shuffle(indices)
        n_validation = round(len(indices) * validation_fraction)
        n_test = round(len(indices) * test_fraction)
        for index in indices[:n_validation]:
            assignment[index] = 1
        for index in indices[n_validation : n_validation + n_test]:
            assignment[index] = 2
        by_label[label_id] = array("I")  # free it
    return assignment


def write_splits(fileobj: BinaryIO, result: Scan, assignment: bytearray, directory: Path) -> list[BinaryIO]:
    """Write one temporary file per split code, in the source's format; the caller closes them."""
    directory.mkdir(parents=True, exist_ok=True)
    spools = [tempfile.TemporaryFile(dir=directory) for _ in SPLITS]  # noqa: SIM115 (closed by the caller)
    if result.format == FileFormat.PARQUET:
        _write_parquet_splits(fileobj, assignment, spools)
    else:
        for spool in spools:
            spool.write(result.header)
        _copy_rows(fileobj, result, assignment, spools)
    for spool in spools:
        spool.seek(0)
    return spools


def _copy_rows(fileobj: BinaryIO, result: Scan, assignment: bytearray, spools: list[BinaryIO]) -> None:
    position = -1
    for index, (start, length) in enumerate(zip(result.starts, result.lengths, strict=True)):
        if start != position:
            fileobj.seek(start)
        data = fileobj.read(length)
        position = start + length
        if not data.endswith(b"\n"):
            data += b"\n"  # the last line of a file without a final newline
        spools[assignment[index]].write(data)


def _write_parquet_splits(fileobj: BinaryIO, assignment: bytearray, spools: list[BinaryIO]) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    fileobj.seek(0)
    parquet = pq.ParquetFile(fileobj)
    codes = np.frombuffer(assignment, dtype=np.uint8)
    writers = [pq.ParquetWriter(spool, parquet.schema_arrow) for spool in spools]
    try:
        offset = 0
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            batch_codes = codes[offset : offset + batch.num_rows]
            offset += batch.num_rows
            for code, writer in enumerate(writers):
                indices = np.flatnonzero(batch_codes == code)
                if len(indices):
                    writer.write_batch(batch.take(pa.array(indices)))
    finally:
        for writer in writers:
            writer.close()


def iter_values(
    fileobj: BinaryIO, fmt: str, columns: Sequence[str] | None = None
) -> Iterable[dict[str, str]]:
    """The rows of a stored file as dicts of text (all columns unless narrowed)."""
    _, _, rows = open_rows(fileobj, fmt, columns=columns)
    for row in rows:
        yield row.values
