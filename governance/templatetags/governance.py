"""Template access to governance records from pages of other apps (hub code never imports governance),
filtered by what the viewer may see."""

from django import template

from governance import cards
from governance.selectors import reports_visible_to
from hub.datasheets import Completeness
from hub.models import ModelVersion

register = template.Library()


@register.simple_tag
def evaluations_of(version: ModelVersion, user, limit: int = 20) -> list:
    """``{% evaluations_of version request.user as reports %}``: reports the user may read, newest first."""
    return list(reports_visible_to(user).filter(model_version=version)[:limit])


@register.simple_tag
def card_completeness(version: ModelVersion) -> Completeness:
    """``{% card_completeness version as card %}``, then ``{{ card.percent }}``."""
    return cards.completeness_of(version)
