"""Licence identifiers the hub accepts: SPDX ids it knows, and ``LicenseRef-<id>`` for the rest."""

import re

# The SPDX identifiers used for datasets and models in practice (see the SPDX licence list).
KNOWN_SPDX_IDS = frozenset(
    {
        "0BSD", "AFL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-2.0", "Artistic-2.0",
        "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSL-1.0", "CC-BY-2.0", "CC-BY-2.5",
        "CC-BY-3.0", "CC-BY-4.0", "CC-BY-NC-2.0", "CC-BY-NC-3.0", "CC-BY-NC-4.0", "CC-BY-NC-ND-3.0",
        "CC-BY-NC-ND-4.0", "CC-BY-NC-SA-2.0", "CC-BY-NC-SA-3.0", "CC-BY-NC-SA-4.0", "CC-BY-ND-4.0",
        "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "CDLA-Permissive-1.0", "CDLA-Permissive-2.0",
        "CDLA-Sharing-1.0", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.1", "EUPL-1.2", "GFDL-1.3-only",
        "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later", "ISC",
        "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "LPPL-1.3c",
        "MIT", "MIT-0", "MPL-2.0", "MS-PL", "NCSA", "ODbL-1.0", "ODC-By-1.0", "OFL-1.1", "OSL-3.0",
        "PDDL-1.0", "PostgreSQL", "Python-2.0", "Unlicense", "UPL-1.0", "WTFPL", "Zlib",
    }
)  # fmt: skip
_BY_LOWER = {spdx.lower(): spdx for spdx in KNOWN_SPDX_IDS}
LICENSE_REF = re.compile(r"^LicenseRef-[A-Za-z0-9][A-Za-z0-9.\-]{0,62}$")


def normalize_license(value: str) -> str:
    """Return the canonical spelling of a licence id, or raise ValueError saying what is accepted."""
    value = (value or "").strip()
    if not value:
        raise ValueError("a licence id is required, e.g. Apache-2.0, CC-BY-4.0 or LicenseRef-<name>")
    if LICENSE_REF.match(value):
        return value
    canonical = _BY_LOWER.get(value.lower())
    if canonical is None:
        raise ValueError(
            f"{value!r} is not a known SPDX licence id; use an SPDX id such as Apache-2.0, MIT or "
            "CC-BY-4.0, or LicenseRef-<name> for a licence SPDX does not list"
        )
    return canonical
