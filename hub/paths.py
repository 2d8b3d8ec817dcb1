"""Validation of file names that users give (inside a dataset or model version).

A name is kept as a relative POSIX path and later served to clients that write it to their own disks
(Linux, macOS, Windows) and put it in URLs, so it must mean the same thing everywhere: no way out of the
folder, nothing a URL or a filesystem would read differently from what was checked.
"""

import re
import unicodedata

MAX_PATH_LENGTH = 255
# Invisible or structural characters: controls (NUL, newline), format marks (right-to-left override,
# zero-width joiners), surrogates and line/paragraph separators.
REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}
# Characters Windows refuses in names (":" also makes drive letters and alternate streams), and those a
# URL reads as delimiters (query, fragment, path parameters).
REFUSED_CHARACTERS = set('\\:*?"<>|#;')
# Look-alikes of "/" and "\" that NFKC leaves alone: a later normalization or a font could make them
# separators.
SLASH_LOOKALIKES = set("\u2044\u2215\u2216\u29f5\u29f8\u29f9")
PERCENT_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
WINDOWS_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?$", re.IGNORECASE)


def validate_file_name(name: str, *, allow_folders: bool = False) -> str:
    """Return the name if it is safe to keep as a relative path; raise ValueError saying why not."""
    if not name:
        raise ValueError("the file name is empty")
    if len(name) > MAX_PATH_LENGTH:
        raise ValueError(f"the file name is longer than {MAX_PATH_LENGTH} characters")
    if any(unicodedata.category(char) in REFUSED_CATEGORIES for char in name):
        raise ValueError("the file name contains NUL, invisible formatting or control characters")
    if "\ufffd" in name:
        raise ValueError("the file name contains U+FFFD, the mark of a character that could not be decoded")
    if "\\" in name:
        raise ValueError("the file name contains a backslash")
    if name.startswith("/"):
        raise ValueError("the file name is an absolute path")
    refused = sorted(REFUSED_CHARACTERS.intersection(name))
    if refused:
        raise ValueError(f"the file name contains {' '.join(refused)} (not allowed in file names)")
    # Decoded once by a proxy or a client, %2e%2e%2f would become ../ after the check.
    if PERCENT_ENCODED.search(name):
        raise ValueError("the file name contains percent-encoded characters (%xx)")
    # Fullwidth dots and solidus (U+FF0E, U+FF0F) become ../ under NFKC, which some systems apply to names.
    if unicodedata.normalize("NFKC", name) != name or SLASH_LOOKALIKES.intersection(name):
        raise ValueError(
            "the file name contains look-alike or compatibility characters (e.g. a fullwidth dot or slash)"
        )
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError("the file name contains '..', '.' or an empty path segment")
    if any(part[-1] in ". " or part[0] == " " for part in parts):
        # Windows drops trailing dots and spaces: "config.json." would overwrite "config.json".
        raise ValueError("a segment of the file name starts with a space or ends with a dot or a space")
    if any(WINDOWS_RESERVED.match(part) for part in parts):
        raise ValueError("the file name uses a name Windows reserves for devices (CON, NUL, COM1, …)")
    if not allow_folders and len(parts) > 1:
        raise ValueError("the file name contains a folder")
    return name
