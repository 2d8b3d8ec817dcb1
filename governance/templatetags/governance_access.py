"""Template access to where the viewer stands with a gated dataset or model (hub pages never import
governance)."""

from django import template

from governance.selectors import AccessPanel, access_panel

register = template.Library()


@register.simple_tag
def artifact_access(artifact, user) -> AccessPanel:
    """``{% artifact_access dataset request.user as access %}``: its access mode, and for each of the
    viewer's organizations a grant, a pending request or a refusal."""
    return access_panel(user, artifact)
