"""The sub-navigation of an organization's pages: its sections, those the viewer may open."""

from __future__ import annotations

from django import template

from hub.models import Organization
from hub.permissions import can_administer, can_view_organization

register = template.Library()

# (namespace, url name) of each page, to the section it belongs to.
SECTION_OF_PAGE = {
    ("hub", "organization"): "overview",
    ("governance", "policy-list"): "policies",
    ("governance", "policy-create"): "policies",
    ("governance", "policy"): "policies",
    ("governance", "policy-version-create"): "policies",
    ("governance", "access-inbox"): "access",
    ("governance", "organization-scores"): "scores",
    ("governance", "organization-score-factor"): "scores",
    ("governance", "audit"): "audit",
    ("training", "pool-list"): "pools",
}


def active_section(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    return SECTION_OF_PAGE.get((match.namespace, match.url_name), "")


@register.inclusion_tag("hub/_org_nav.html", takes_context=True)
def organization_nav(context, organization: Organization) -> dict:
    """``{% organization_nav organization %}``: the links to the organization's sections; the members-only
    and admins-only ones only for those who may open them."""
    request = context["request"]
    is_member = can_view_organization(request.user, organization)
    return {
        "organization": organization,
        "active": active_section(request),
        "is_member": is_member,
        "is_admin": is_member and can_administer(request.user, organization),
    }
