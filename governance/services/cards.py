"""Model cards: the owners' prose, with its permission check and validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from governance import cards
from governance.models import ModelCard
from hub import audit
from hub.models import ModelVersion
from hub.permissions import Viewer, can_write


def update_model_card(user: Viewer, version: ModelVersion, sections: Mapping[str, Any]) -> ModelCard:
    """Replace the owners' prose of the version's card (section key → Markdown text).

    Owners are the members who may write the model's organization. Raises ValidationError naming
    each unknown section, non-text value or over-long text.
    """
    if not can_write(user, version.model.organization):
        raise PermissionDenied(f"You may not edit the model card of {version}.")
    if version.is_frozen or version.status == ModelVersion.Status.IN_REVIEW:
        # The card is part of what was reviewed and published.
        raise ValidationError(
            {"sections": f"{version} is {version.get_status_display().lower()}: its card is fixed"}
        )
    cleaned = cards.clean_sections(sections)
    with transaction.atomic():
        stored = ModelCard.objects.select_for_update().filter(model_version=version).first()
        old = stored.sections if stored else {}
        card, _ = ModelCard.objects.update_or_create(
            model_version=version, defaults={"sections": cleaned, "updated_by": user}
        )
        # The log keeps which sections changed and their lengths, not the prose itself.
        changed = sorted(key for key in old.keys() | cleaned.keys() if old.get(key) != cleaned.get(key))
        audit.record(
            "card.update", actor=user, organization=version.model.organization, target=card,
            before={"sections": {key: len(old[key]) for key in changed if key in old}},
            after={"sections": {key: len(cleaned[key]) for key in changed if key in cleaned}},
        )  # fmt: skip
        refresh_card_completeness(version)
    return card


def refresh_card_completeness(version: ModelVersion) -> float:
    """Store the card's completeness on the version and mark the card touched (the T factor reads it)."""
    score = cards.completeness_of(version).score
    # update(): only these two columns, which stay current even on a published version.
    ModelVersion.objects.filter(pk=version.pk).update(card_completeness=score, card_touched_at=timezone.now())
    return score


def refresh_on_new_version(sender, instance: ModelVersion, created: bool, **kwargs) -> None:
    """post_save of ModelVersion: a new version's card exists from the start."""
    if created and not kwargs.get("raw"):
        refresh_card_completeness(instance)
