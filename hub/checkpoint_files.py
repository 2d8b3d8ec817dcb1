"""Checks on a Hugging Face model directory before it enters the registry, and the staging of
uploaded files into such a directory.

Reading the safetensors header needs no torch: 8 bytes of little-endian length, then JSON.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
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


def _idle_seconds() -> float:
    from django.conf import settings

    return max(settings.AGORA_CHECKPOINT_INSPECTOR_IDLE_SECONDS, 0)


# The child imports transformers before its first request, then answers one directory per line of
# stdin with one JSON line. It ends when its stdin closes, so it never outlives the process that
# started it, however that process ends.
_CHILD_SOURCE = "from hub.checkpoint_files import serve_inspections; serve_inspections()"
_READY = "ready"


def serve_inspections() -> None:
    """The loop of the inspector's child process (see CheckpointInspector)."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    # What the libraries print goes to the log (stderr), never among the answers.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from transformers import AutoConfig, AutoTokenizer  # noqa: F401  (the slow part: it imports torch)

    answers.write(_READY + "\n")
    for line in sys.stdin:
        answers.write(json.dumps(load_with_transformers(json.loads(line))) + "\n")


class _ChildGone(Exception):
    """The child ended before it answered; ``ready``: whether it had imported transformers by then."""

    def __init__(self, detail: str, ready: bool):
        super().__init__(detail)
        self.ready = ready


class CheckpointInspector:
    """A child process that loads checkpoints with transformers on behalf of a process that must stay
    light (a web worker): transformers imports torch, about 3 s and 230 MB, paid in the child only.

    The child starts on first use, or ahead of it through ``warm_up`` (an upload calls it as its body
    begins, so that the import overlaps the transfer); later loads reuse it, and it is stopped after
    ``idle_seconds`` without use (0: a fresh child for each load, stopped after it). A child that dies
    (killed, out of memory) is replaced and the load tried once more on a fresh one.

    ``idle_seconds`` None follows AGORA_CHECKPOINT_INSPECTOR_IDLE_SECONDS.
    """

    def __init__(self, idle_seconds: float | None = None, command: Sequence[str] | None = None):
        self._idle_seconds = idle_seconds
        self.command = list(command or [sys.executable, "-c", _CHILD_SOURCE])
        self._process: subprocess.Popen | None = None
        self._ready = False
        self._last_used = 0.0
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    @property
    def idle_seconds(self) -> float:
        return _idle_seconds() if self._idle_seconds is None else self._idle_seconds

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def warm_up(self) -> None:
        """Start the child now, if none is running, without waiting for its import."""
        if not self._lock.acquire(blocking=False):
            return  # a load is under way: a child is running
        try:
            self._start()
            self._touch()
        finally:
            self._lock.release()

    def load(self, directory: Path) -> tuple[str, str]:
        """(model_type, error message or "") of the directory, as ``load_with_transformers`` gives them."""
        with self._lock:
            try:
                try:
                    return self._ask(directory)
                except _ChildGone:
                    self._stop()  # a warm child may have been killed while it waited: ask a fresh one
                    return self._ask(directory)
            except _ChildGone as gone:
                self._stop()
                if not gone.ready:  # it could not even import transformers: the server is at fault
                    raise RuntimeError(f"the checkpoint inspector process did not start: {gone}") from None
                message = f"the checkpoint could not be loaded with transformers: its loading process {gone}"
                raise ValidationError({"files": message}) from None
            finally:
                if self.idle_seconds <= 0:
                    self._stop()
                else:
                    self._touch()

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _start(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        root = str(Path(__file__).resolve().parent.parent)
        pythonpath = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": pythonpath},
            text=True,
        )
        return self._process

    def _ask(self, directory: Path) -> tuple[str, str]:
        process = self._start()
        try:
            process.stdin.write(json.dumps(str(directory)) + "\n")
            process.stdin.flush()
            if not self._ready:
                if process.stdout.readline().strip() != _READY:
                    raise _ChildGone(self._ended(process), ready=False)
                self._ready = True
            answer = process.stdout.readline()
        except (BrokenPipeError, ConnectionResetError):
            answer = ""
        if not answer:
            raise _ChildGone(self._ended(process), ready=self._ready)
        model_type, error = json.loads(answer)
        return model_type, error

    @staticmethod
    def _ended(process: subprocess.Popen) -> str:
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        return f"ended with exit code {code}" if code >= 0 else f"was killed by signal {-code}"

    def _stop(self) -> None:
        process, self._process, self._ready = self._process, None, False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):  # a broken pipe: the child is gone already
                stream.close()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _touch(self) -> None:
        """Note a use, and stop the child once it has been idle for ``idle_seconds``."""
        self._last_used = time.monotonic()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = threading.Timer(self.idle_seconds, self._stop_if_idle)
        self._timer.daemon = True
        self._timer.start()

    def _stop_if_idle(self) -> None:
        with self._lock:
            # A load may have run while this timer waited for the lock; its own timer ends the child.
            if time.monotonic() - self._last_used >= self.idle_seconds:
                self._stop()

    def _forget_after_fork(self) -> None:
        """In a forked process: the child belongs to the parent; drop the pipes without stopping it."""
        self._lock = threading.Lock()
        self._timer = None
        if self._process is not None:
            for stream in (self._process.stdin, self._process.stdout):
                with contextlib.suppress(OSError):
                    stream.close()
        self._process, self._ready = None, False


_inspector: CheckpointInspector | None = None
_inspector_lock = threading.Lock()


def checkpoint_inspector() -> CheckpointInspector:
    """This process's inspector, stopped when the process exits."""
    global _inspector
    with _inspector_lock:
        if _inspector is None:
            _inspector = CheckpointInspector()
            atexit.register(_inspector.stop)
        return _inspector


def _inspector_after_fork() -> None:
    global _inspector_lock
    _inspector_lock = threading.Lock()
    if _inspector is not None:
        _inspector._forget_after_fork()


os.register_at_fork(after_in_child=_inspector_after_fork)


def warm_up_inspector() -> None:
    """Start the inspector's child now, so that transformers is imported by the time a load needs it.

    Nothing to do where torch is already imported (loads run in process) or where each load has a
    fresh child (AGORA_CHECKPOINT_INSPECTOR_IDLE_SECONDS=0).
    """
    if "torch" not in sys.modules and _idle_seconds() > 0:
        checkpoint_inspector().warm_up()


def _load_with_transformers_isolated(directory: Path) -> tuple[str, str]:
    """transformers imports torch (about 230 MB resident). A process that has not imported it (a web
    server) loads the checkpoint in its inspector's child process instead, and stays light."""
    if "torch" in sys.modules:
        return load_with_transformers(str(directory))
    return checkpoint_inspector().load(directory)


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
