"""Reading labelled text tables (CSV and TSV) and splitting them, with errors that name the field.

Pure Python: services call it before anything is stored, so a bad file stores nothing.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError

DELIMITERS = {".csv": ",", ".tsv": "\t"}
MAX_FIELD_CHARS = 1_000_000


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, str]]


def _extension(filename: str) -> str:
    name = filename.lower()
    return name[name.rfind(".") :] if "." in name else ""


def read_table(data: bytes, filename: str) -> Table:
    """Parse an uploaded CSV or TSV file. Raises ValidationError on the ``file`` field."""
    extension = _extension(filename)
    if extension not in DELIMITERS:
        raise ValidationError(
            {"file": f"unsupported file type {extension or '(none)'!r}: upload a .csv or .tsv file"}
        )
    if not data.strip():
        raise ValidationError({"file": "the file is empty"})
    if b"\x00" in data[:65536]:
        raise ValidationError({"file": "the file is binary, not a CSV/TSV text file"})
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError({"file": f"the file is not UTF-8 text (byte {exc.start} is invalid)"}) from None

    csv.field_size_limit(MAX_FIELD_CHARS)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[extension])
    try:
        header = next(reader, None)
        if not header or not any(column.strip() for column in header):
            raise ValidationError({"file": "the file has no header row"})
        columns = [column.strip() for column in header]
        duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
        if duplicates:
            raise ValidationError({"file": f"duplicate column names in the header: {', '.join(duplicates)}"})
        rows = []
        for values in reader:
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # blank line
            if len(values) != len(columns):
                raise ValidationError(
                    {
                        "file": f"line {reader.line_num} has {len(values)} fields but the header has "
                        f"{len(columns)}; is it really a {extension[1:].upper()} file?"
                    }
                )
            rows.append(dict(zip(columns, values, strict=True)))
    except csv.Error as exc:
        raise ValidationError({"file": f"line {reader.line_num}: {exc}"}) from None
    if not rows:
        raise ValidationError({"file": "the file has a header but no rows"})
    return Table(columns=columns, rows=rows)


def check_schema(table: Table, text_field: str, label_field: str, group_field: str = "") -> list[str]:
    """Check the declared columns against the table; return the sorted label names."""
    errors: dict[str, str] = {}
    available = ", ".join(table.columns)
    for field, column in (
        ("text_field", text_field),
        ("label_field", label_field),
        ("group_field", group_field),
    ):
        if column and column not in table.columns:
            errors[field] = f"column {column!r} is not in the file; its columns are: {available}"
    if text_field and text_field == label_field:
        errors["label_field"] = "the label column must differ from the text column"
    if errors:
        raise ValidationError(errors)
    for line, row in enumerate(table.rows, start=2):
        if not row[text_field].strip():
            raise ValidationError({"text_field": f"row {line - 1} (line {line}) has an empty {text_field!r}"})
        if not row[label_field].strip():
            raise ValidationError(
                {"label_field": f"row {line - 1} (line {line}) has an empty {label_field!r}"}
            )
    labels = sorted({row[label_field].strip() for row in table.rows})
    if len(labels) < 2:
        raise ValidationError(
            {"label_field": f"column {label_field!r} needs at least two classes; it has only {labels[0]!r}"}
        )
    return labels


def stratified_split(
    labels: Sequence[str], validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[int]]:
    """Split row indices into train/validation/test, per label, reproducibly from the seed."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    rng = random.Random(seed)  # noqa: S311 (reproducible splits, not secrets)
    splits: dict[str, list[int]] = {"train": [], "validation": [], "test": []}
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        n_validation = round(len(indices) * validation_fraction)
        n_test = round(len(indices) * test_fraction)
        splits["validation"] += indices[:n_validation]
        splits["test"] += indices[n_validation : n_validation + n_test]
        splits["train"] += indices[n_validation + n_test :]
    for name in splits:
        splits[name].sort()
    return splits


def write_csv(columns: list[str], rows: Sequence[dict[str, str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
