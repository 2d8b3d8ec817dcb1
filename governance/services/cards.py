"""Model cards: the owners' prose, with its permission check and validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied

from governance import cards
from governance.models import ModelCard
from hub.models import ModelVersion
from hub.permissions import Viewer, can_write


def update_model_card(user: Viewer, version: ModelVersion, sections: Mapping[str, Any]) -> ModelCard:
    """Replace the owners' prose of the version's card (section key → Markdown text).

    Owners are the members who may write the model's organization. Raises ValidationError naming
    each unknown section, non-text value or over-long text.
    """
    if not can_write(user, version.model.organization):
        raise PermissionDenied(f"You may not edit the model card of {version}.")
    cleaned = cards.clean_sections(sections)
    card, _ = ModelCard.objects.update_or_create(
        model_version=version, defaults={"sections": cleaned, "updated_by": user}
    )
    return card
