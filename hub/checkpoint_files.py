"""Checks on a Hugging Face model directory before it enters the registry, and the staging of
uploaded files into such a directory.

Reading the safetensors header needs no torch: 8 bytes of little-endian length, then JSON.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import multiprocessing
import os
import struct
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.core.exceptions import ValidationError
from django.core.files import File

from hub.paths import validate_file_name

# A tokenizer needs at least one of these to load; transformers may otherwise build an empty one.
TOKENIZER_FILES = {
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
}
# Formats that unpickle (run code) when loaded: PyTorch, joblib and dill files.
PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".dill"}
# Headers of real checkpoints are kilobytes (a large model's shard: well under 1 MiB); a larger one
# would only make the server read and parse it whole.
MAX_HEADER_BYTES = 16 * 1024 * 1024
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8,
}  # fmt: skip


@dataclass
class SafetensorsSummary:
    tensors: int = 0
    parameters: int = 0
    by_dtype: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class CheckpointInfo:
    files: list[str]
    architecture: str
    model_type: str
    weights: SafetensorsSummary
    labels: list[str]


def read_safetensors_header(path: Path) -> dict:
    """Return the header dict of a safetensors file; raise ValueError when it is malformed.

    Only the header is read (at most MAX_HEADER_BYTES), and it must describe the data exactly as the
    safetensors loader will: known dtypes, non-negative integer shapes whose size matches the byte
    range, and ranges that tile the data section without gaps, overlaps or bytes past the end.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        if len(prefix) != 8:
            raise ValueError("the file is shorter than a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES:
            raise ValueError(
                f"the header length {length} is larger than the {MAX_HEADER_BYTES} bytes allowed"
            )
        if length > size - 8:
            raise ValueError(f"the header length {length} does not fit the file of {size} bytes")
        try:
            header = json.loads(handle.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise ValueError("the header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    data_size = size - 8 - length
    ranges = sorted(
        (_tensor_range(name, entry), name) for name, entry in header.items() if name != "__metadata__"
    )
    position = 0
    for (start, end), name in ranges:
        if start != position:
            problem = "overlaps another tensor" if start < position else "leaves a gap before it"
            raise ValueError(f"tensor {name!r} {problem} (its data starts at {start}, not {position})")
        position = end
    if position != data_size:
        raise ValueError(f"the tensors cover {position} bytes of data, but the file holds {data_size}")
    return header


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _tensor_range(name: str, entry: object) -> tuple[int, int]:
    """The (start, end) byte range of one tensor, checked against its dtype and shape."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise ValueError(f"tensor {name!r} lacks dtype, shape or data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise ValueError(f"tensor {name!r} has an unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(_is_count(dim) for dim in shape):
        raise ValueError(f"tensor {name!r} has a shape that is not a list of non-negative integers")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
        raise ValueError(f"tensor {name!r} has data_offsets that are not two non-negative integers")
    start, end = offsets
    if end < start or end - start != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise ValueError(f"tensor {name!r} has offsets that do not match its dtype and shape")
    return start, end


def summarize_weights(paths: list[Path]) -> SafetensorsSummary:
    summary = SafetensorsSummary()
    for path in paths:
        for name, entry in read_safetensors_header(path).items():
            if name == "__metadata__":
                continue
            count = math.prod(entry["shape"])
            summary.tensors += 1
            summary.parameters += count
            bucket = summary.by_dtype.setdefault(entry["dtype"], {"tensors": 0, "parameters": 0})
            bucket["tensors"] += 1
            bucket["parameters"] += count
    return summary


def list_files(directory: Path) -> list[str]:
    """Relative paths of every file under the directory, validated."""
    names = []
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            raise ValidationError({"files": f"{path.name}: symbolic links are not accepted"})
        if path.is_file():
            relative = path.relative_to(directory).as_posix()
            try:
                names.append(validate_file_name(relative, allow_folders=True))
            except ValueError as exc:
                raise ValidationError({"files": f"{relative!r}: {exc}"}) from None
    return names


def load_with_transformers(directory: str) -> tuple[str, str]:
    """Load the config and the tokenizer as training will; return (model_type, error message or "")."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(directory, local_files_only=True)
    except Exception as exc:  # transformers raises many types for a bad config
        return "", f"config.json does not load with transformers: {exc}"
    try:
        AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except Exception as exc:
        return "", f"the tokenizer does not load with transformers: {exc}"
    return config.model_type, ""


def _load_with_transformers_isolated(directory: Path) -> tuple[str, str]:
    """transformers imports torch (about 230 MB resident). A process that has not imported it (a web
    server) loads the checkpoint in a short-lived child process instead, and stays light."""
    if "torch" in sys.modules:
        return load_with_transformers(str(directory))
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(load_with_transformers, str(directory)).result()


def inspect_checkpoint(directory: Path) -> CheckpointInfo:
    """Validate a model directory the way transformers will load it. Raises ValidationError on ``files``."""
    if not directory.is_dir():
        raise ValidationError({"path": f"{directory} is not a directory"})
    files = [name for name in list_files(directory) if not name.startswith(".")]
    pickles = [name for name in files if Path(name).suffix.lower() in PICKLE_SUFFIXES]
    if pickles:
        raise ValidationError(
            {
                "files": f"pickle weights are refused ({', '.join(pickles)}): they can run code when loaded. "
                "Convert them to safetensors (e.g. model.save_pretrained(dir, safe_serialization=True))."
            }
        )
    if "config.json" not in files:
        raise ValidationError({"files": "config.json is missing"})
    if not TOKENIZER_FILES & set(files):
        raise ValidationError(
            {"files": f"no tokenizer files found: expected one of {', '.join(sorted(TOKENIZER_FILES))}"}
        )
    # The model's weights sit at the top level (sharded or not); files in sub-folders, such as a LoRA
    # adapter kept beside merged weights, are extras and do not count as the model's parameters.
    weight_files = [directory / name for name in files if name.endswith(".safetensors") and "/" not in name]
    if not weight_files:
        raise ValidationError({"files": "no .safetensors weights found"})
    try:
        weights = summarize_weights(weight_files)
    except ValueError as exc:
        raise ValidationError({"files": f"corrupted safetensors file: {exc}"}) from None
    try:
        raw_config = json.loads((directory / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError({"files": f"config.json is not valid JSON: {exc}"}) from None

    model_type, error = _load_with_transformers_isolated(directory)
    if error:
        raise ValidationError({"files": error})
    architectures = raw_config.get("architectures") or [""]
    id2label = raw_config.get("id2label") or {}
    has_classifier = any("ForSequenceClassification" in name for name in architectures)
    labels = [id2label[key] for key in sorted(id2label, key=int)] if has_classifier else []
    return CheckpointInfo(
        files=files,
        architecture=architectures[0],
        model_type=model_type,
        weights=weights,
        labels=labels,
    )


def _copy_hashed(source: BinaryIO, target: Path) -> str:
    digest = hashlib.sha256()
    source.seek(0)
    with open(target, "xb") as out:
        for chunk in iter(lambda: source.read(1024 * 1024), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def stage_uploaded_files(files: Sequence[tuple[str, File]], destination: Path) -> dict[str, str]:
    """Lay uploaded files out under their relative paths; return relative path → SHA-256.

    A file the upload handler already hashed on disk is hard-linked (no copy); others are copied
    while hashed. Names are validated here, before anything is written.
    """
    digests: dict[str, str] = {}
    for raw_name, upload in files:
        try:
            name = validate_file_name(raw_name, allow_folders=True)
        except ValueError as exc:
            raise ValidationError({"files": f"{raw_name!r}: {exc}"}) from None
        if name in digests:
            raise ValidationError({"files": f"{name!r} is given twice"})
        target = destination / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            sha256 = getattr(upload, "sha256", None)
            if sha256 and hasattr(upload, "temporary_file_path"):
                try:
                    os.link(upload.temporary_file_path(), target)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    sha256 = _copy_hashed(upload, target)
            else:
                sha256 = _copy_hashed(upload, target)
        except (FileExistsError, NotADirectoryError):
            raise ValidationError({"files": f"{name!r} clashes with another file or folder"}) from None
        digests[name] = sha256
    return digests


def checkpoint_root(directory: Path, digests: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """Descend into a single top folder (``my-model/config.json``) when config.json is not at the top."""
    tops = {name.split("/", 1)[0] for name in digests}
    if "config.json" in digests or len(tops) != 1 or any("/" not in name for name in digests):
        return directory, digests
    (top,) = tops
    return directory / top, {name.split("/", 1)[1]: sha256 for name, sha256 in digests.items()}
