"""The dataset card: the seven sections of Gebru et al., "Datasheets for Datasets" (CACM 2021), and
how complete a card is ("Card completeness" in the scores specification).

Completeness = filled required items / required items, the items being the seven sections, a valid
licence id and a declared schema. A section is filled when its text is not a placeholder and has at
least MIN_PROSE_CHARS characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from hub.licenses import normalize_license

MIN_PROSE_CHARS = 20
MAX_SECTION_CHARS = 20_000


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    questions: tuple[str, ...]


SECTIONS = (
    Section("motivation", "Motivation", (
        "For what purpose was the dataset created? Was there a specific task or gap in mind?",
        "Who created it, on behalf of which entity, and who funded it?",
    )),
    Section("composition", "Composition", (
        "What do the instances represent, how many are there, and what does each consist of?",
        "Is it a sample of a larger set? Is any information missing, and why?",
        "Does it contain data that might be confidential, offensive, or that identifies people?",
    )),
    Section("collection", "Collection process", (
        "How was the data acquired, by whom, and over what timeframe?",
        "What sampling strategy was used? Were the people concerned notified, and did they consent?",
    )),
    Section("preprocessing", "Preprocessing and labeling", (
        "Was any cleaning, filtering or labeling done? By whom, and with what instructions?",
        "Is the raw data kept? Is the software used available?",
    )),
    Section("uses", "Uses", (
        "What tasks has it been used for, and what other tasks could it serve?",
        "Is there anything about its composition or collection that might affect future uses?",
        "Are there tasks for which it should not be used?",
    )),
    Section("distribution", "Distribution", (
        "How is it distributed, to whom, and since when?",
        "Under what licence or terms of use? Do third parties impose restrictions?",
    )),
    Section("maintenance", "Maintenance", (
        "Who maintains it, and how can they be contacted?",
        "Will it be updated (errata, new instances, removals), how often, and how will users know?",
    )),
)  # fmt: skip
SECTION_KEYS = tuple(section.key for section in SECTIONS)

# Whole answers that say nothing, and openings that mark a draft.
_EMPTY_ANSWERS = {"n/a", "na", "none", "null", "nil", "unknown", "tbd", "tba", "todo", "to do", "coming soon"}
_DRAFT_OPENING = re.compile(r"^(tbd|tba|todo|to do|fixme|xxx|lorem ipsum)\b")


def is_placeholder(text: str) -> bool:
    normalized = " ".join(text.lower().split())
    if not re.search(r"\w", normalized):  # "-", "...", "?"
        return True
    return normalized.strip(" .!?:;") in _EMPTY_ANSWERS or bool(_DRAFT_OPENING.match(normalized))


def is_filled(text: str | None) -> bool:
    text = (text or "").strip()
    return len(text) >= MIN_PROSE_CHARS and not is_placeholder(text)


@dataclass(frozen=True)
class Item:
    key: str
    title: str


@dataclass(frozen=True)
class Completeness:
    filled: int
    required: int
    missing: list[Item]

    @property
    def score(self) -> float:
        return self.filled / self.required

    @property
    def percent(self) -> int:
        return round(100 * self.score)


def completeness(datasheet: Mapping[str, Any], license: str, schema_declared: bool) -> Completeness:
    missing = [Item(s.key, s.title) for s in SECTIONS if not is_filled(datasheet.get(s.key))]
    try:
        normalize_license(license)
    except ValueError:
        missing.append(Item("license", "A valid licence id (SPDX or LicenseRef-)"))
    if not schema_declared:
        missing.append(Item("schema", "A declared schema (a version with text and label columns)"))
    required = len(SECTIONS) + 2
    return Completeness(filled=required - len(missing), required=required, missing=missing)


def dataset_completeness(dataset) -> Completeness:
    """Completeness of a Dataset: its schema is declared by its latest version."""
    latest = dataset.versions.order_by("-number").first()
    declared = latest is not None and bool(latest.text_field and latest.label_field)
    return completeness(dataset.datasheet or {}, dataset.license, declared)


def clean_sections(
    sections: Mapping[str, Any], keys: Sequence[str] = SECTION_KEYS, card: str = "datasheet"
) -> dict[str, str]:
    """Validate a card's prose: known section keys only, text of at most MAX_SECTION_CHARS characters.

    Raises a ValidationError naming each offending key; empty texts are dropped. Model cards use it
    with their own keys.
    """
    errors = {}
    cleaned = {}
    for key, text in sections.items():
        if key not in keys:
            errors[str(key)] = f"unknown {card} section; the sections are: {', '.join(keys)}"
        elif text is not None and not isinstance(text, str):
            errors[key] = "must be text"
        elif text and len(text) > MAX_SECTION_CHARS:
            errors[key] = f"is {len(text)} characters long; the limit is {MAX_SECTION_CHARS}"
        elif text and text.strip():
            cleaned[key] = text.strip()
    if errors:
        raise ValidationError(errors)
    return {key: cleaned[key] for key in keys if key in cleaned}
