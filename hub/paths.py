"""Validation of file names that users give (inside a dataset or model version)."""

import posixpath
import unicodedata

MAX_PATH_LENGTH = 255


def validate_file_name(name: str, *, allow_folders: bool = False) -> str:
    """Return the name if it is safe to keep as a relative path; raise ValueError saying why not."""
    if not name:
        raise ValueError("the file name is empty")
    if len(name) > MAX_PATH_LENGTH:
        raise ValueError(f"the file name is longer than {MAX_PATH_LENGTH} characters")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise ValueError("the file name contains NUL or control characters")
    if "\\" in name:
        raise ValueError("the file name contains a backslash")
    if name.startswith("/"):
        raise ValueError("the file name is an absolute path")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError("the file name contains '..', '.' or an empty path segment")
    if not allow_folders and len(parts) > 1:
        raise ValueError("the file name contains a folder")
    if posixpath.normpath(name) != name:
        raise ValueError("the file name is not a normalized relative path")
    return name
