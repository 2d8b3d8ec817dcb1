"""Safe extraction of an uploaded .tar, .tar.gz or .zip archive into a staging directory.

Nothing in the archive is trusted: member names are checked with ``validate_file_name`` (no ``..``,
absolute paths, backslashes, control characters or over-long names), only regular files and
folders are accepted (no links or devices), and the member count, the total size written and its
ratio to the archive's size are limited while extracting, whatever the headers claim. Nothing is held
in memory whole either: a zip's member count is read from its end record before its directory is
parsed, and a tar's extended headers (long names, pax records), which tarfile reads into memory, are
bounded. Each file is hashed while it is written, so the blob store does not read it again.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError

from hub.paths import validate_file_name

CHUNK_SIZE = 1024 * 1024
# A pax record or a GNU long name is a few hundred bytes; tarfile reads the whole header into memory.
MAX_TAR_EXTENDED_HEADER = 1024 * 1024
TAR_EXTENDED_HEADER_TYPES = {
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
}


@dataclass(frozen=True)
class ArchiveLimits:
    max_bytes: int
    max_members: int
    max_ratio: int

    @classmethod
    def from_settings(cls) -> ArchiveLimits:
        return cls(
            max_bytes=settings.AGORA_ARCHIVE_MAX_BYTES,
            max_members=settings.AGORA_ARCHIVE_MAX_MEMBERS,
            max_ratio=settings.AGORA_ARCHIVE_MAX_RATIO,
        )


def _refuse(message: str) -> ValidationError:
    return ValidationError({"archive": message})


@dataclass(frozen=True)
class _Member:
    name: str
    is_dir: bool
    size: int
    open: Callable[[], BinaryIO] | None


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses an extended header too large to be one before tarfile reads it into memory."""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in TAR_EXTENDED_HEADER_TYPES and self.size > MAX_TAR_EXTENDED_HEADER:
            raise _refuse(
                f"an extended header (long name or pax record) of {self.size} bytes is larger than the "
                f"{MAX_TAR_EXTENDED_HEADER} allowed"
            )
        return super()._proc_member(tarfile_)


def _tar_members(archive: tarfile.TarFile) -> Iterator[_Member]:
    for info in archive:
        if info.isdir():
            yield _Member(info.name, True, 0, None)
        elif info.isreg():
            yield _Member(info.name, False, info.size, lambda info=info: archive.extractfile(info))
        else:
            kind = "link" if info.issym() or info.islnk() else "device or special file"
            raise _refuse(f"{info.name!r} is a {kind}; only regular files and folders are accepted")


def _zip_members(archive: zipfile.ZipFile) -> Iterator[_Member]:
    for info in archive.infolist():
        # zipfile cuts names at NUL; the original name shows what the client sent.
        if info.orig_filename != info.filename:
            raise _refuse(f"{info.orig_filename!r}: the file name contains NUL or control characters")
        file_type = (info.external_attr >> 16) & 0o170000
        if file_type not in (0, 0o100000, 0o040000):  # unset, regular file, folder
            raise _refuse(f"{info.filename!r} is a link or special file; only regular files are accepted")
        if info.is_dir():
            yield _Member(info.filename.rstrip("/"), True, 0, None)
        else:
            yield _Member(info.filename, False, info.file_size, lambda info=info: archive.open(info))


def _member_path(name: str) -> str | None:
    """The validated relative path of a member; None for the archive's root folder."""
    if name.startswith("./"):
        name = name[2:]  # ``tar -C dir .`` prefixes every name with ./
    if name in ("", "."):
        return None
    try:
        return validate_file_name(name, allow_folders=True)
    except ValueError as exc:
        raise _refuse(f"{name!r}: {exc}") from None


def _too_large(limits: ArchiveLimits) -> ValidationError:
    return _refuse(
        f"the archive expands beyond its limits: {limits.max_bytes} bytes in all, and {limits.max_ratio} "
        "times its own size (the compression-ratio limit)"
    )


def _copy(source: BinaryIO, target: Path, budget: int, limits: ArchiveLimits) -> tuple[str, int]:
    digest = hashlib.sha256()
    written = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "wb") as out:
        for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
            written += len(chunk)
            if written > budget:
                raise _too_large(limits)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), written


def extract_archive(path: Path, destination: Path, limits: ArchiveLimits | None = None) -> dict[str, str]:
    """Extract into ``destination`` (an empty folder); return relative path → SHA-256 of each file.

    Raises ValidationError on ``archive`` for anything unsafe, malformed or over a limit.
    """
    limits = limits or ArchiveLimits.from_settings()
    budget = min(limits.max_bytes, path.stat().st_size * limits.max_ratio)
    try:
        if zipfile.is_zipfile(path):
            if _zip_entry_count(path) > limits.max_members:
                raise _refuse(f"the archive has more than {limits.max_members} members")
            with zipfile.ZipFile(path) as archive:
                if len(archive.infolist()) > limits.max_members:
                    raise _refuse(f"the archive has more than {limits.max_members} members")
                return _extract(_zip_members(archive), destination, limits, budget)
        with tarfile.open(path, mode="r:*", tarinfo=_BoundedTarInfo) as archive:
            return _extract(_tar_members(archive), destination, limits, budget)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise _refuse(f"not a valid .tar, .tar.gz or .zip archive: {exc}") from None


def _zip_entry_count(path: Path) -> int:
    """The member count a zip's end record declares, read without parsing its central directory
    (zipfile builds an object per entry, so a million declared entries would cost memory first)."""
    with open(path, "rb") as handle:
        end_record = zipfile._EndRecData(handle)  # the standard library's own reader
    return end_record[zipfile._ECD_ENTRIES_TOTAL] if end_record else 0


def _extract(members: Iterator[_Member], destination: Path, limits: ArchiveLimits, budget: int) -> dict:
    digests: dict[str, str] = {}
    total = 0
    for count, member in enumerate(members, start=1):
        if count > limits.max_members:
            raise _refuse(f"the archive has more than {limits.max_members} members")
        name = _member_path(member.name)
        if name is None:
            continue
        target = destination / name
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        if name in digests:
            raise _refuse(f"{name!r} appears twice in the archive")
        if total + member.size > budget:
            raise _too_large(limits)
        target.parent.mkdir(parents=True, exist_ok=True)
        with member.open() as source:
            digests[name], written = _copy(source, target, budget - total, limits)
        total += written
    return digests
