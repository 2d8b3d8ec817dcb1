"""Archive extraction refuses what could escape the staging folder or exhaust the disk."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import pytest
from django.core.exceptions import ValidationError

from hub.archives import ArchiveLimits, extract_archive

LIMITS = ArchiveLimits(max_bytes=10 * 1024 * 1024, max_members=10, max_ratio=200)


def write_tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as archive:
        for info, content in members:
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    return path


def regular(name, content=b"data"):
    info = tarfile.TarInfo(name)
    info.size = len(content)
    return info, content


def test_files_and_folders_are_extracted_and_hashed(tmp_path):
    archive = write_tar(tmp_path / "a.tgz", [regular("./config.json", b"{}"), regular("sub/vocab.txt", b"a")])
    out = tmp_path / "out"
    out.mkdir()
    digests = extract_archive(archive, out, LIMITS)
    assert digests == {
        "config.json": hashlib.sha256(b"{}").hexdigest(),
        "sub/vocab.txt": hashlib.sha256(b"a").hexdigest(),
    }
    assert (out / "sub" / "vocab.txt").read_bytes() == b"a"


def special(name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


@pytest.mark.parametrize(
    ("member", "fragment"),
    [
        (regular("../x"), "'..'"),
        (regular("/etc/x"), "absolute"),
        (regular("a\\b"), "backslash"),
        (regular("a\x01b"), "control characters"),
        (regular("d/" + "x" * 300), "longer than"),
        (special("link", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (special("hard", tarfile.LNKTYPE, "config.json"), "is a link"),
        (special("dev", tarfile.CHRTYPE), "device"),
        (special("fifo", tarfile.FIFOTYPE), "device"),
    ],
)
def test_unsafe_tar_members_are_refused(tmp_path, member, fragment):
    archive = write_tar(tmp_path / "a.tar", [regular("config.json"), member], mode="w")
    with pytest.raises(ValidationError, match=fragment):
        extract_archive(archive, tmp_path, LIMITS)
    assert not (tmp_path.parent / "x").exists()


def test_a_zip_with_nul_or_a_symlink_is_refused(tmp_path):
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok#../../evil", b"x")
    path.write_bytes(path.read_bytes().replace(b"ok#", b"ok\0"))  # zipfile itself cuts names at NUL
    with pytest.raises(ValidationError, match="NUL"):
        extract_archive(path, tmp_path, LIMITS)
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(ValidationError, match="link"):
        extract_archive(path, tmp_path, LIMITS)


def test_limits_on_size_ratio_and_members(tmp_path):
    bomb = write_tar(tmp_path / "bomb.tgz", [regular("zeros", bytes(5 * 1024 * 1024))])
    with pytest.raises(ValidationError, match="compression-ratio"):
        extract_archive(bomb, tmp_path / "o1", LIMITS)
    big = write_tar(tmp_path / "big.tar", [regular("a", b"x" * 2048)], mode="w")
    with pytest.raises(ValidationError, match="1024 bytes in all"):
        extract_archive(big, tmp_path, ArchiveLimits(max_bytes=1024, max_members=10, max_ratio=200))
    many = write_tar(tmp_path / "many.tgz", [regular(f"f{i}") for i in range(11)])
    with pytest.raises(ValidationError, match="more than 10 members"):
        extract_archive(many, tmp_path, LIMITS)


def test_a_duplicate_member_is_refused(tmp_path):
    archive = write_tar(tmp_path / "a.tgz", [regular("x"), regular("x")])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValidationError, match="twice"):
        extract_archive(archive, out, LIMITS)
