"""Organization pages."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render

from hub import selectors
from hub.models import Organization
from hub.permissions import can_view_organization, can_write


def organization(request, org):
    organization = get_object_or_404(Organization, slug=org)
    members_visible = can_view_organization(request.user, organization)
    context = {
        "organization": organization,
        "memberships": organization.memberships.select_related("user").order_by("user__username")
        if members_visible
        else [],
        "datasets": selectors.datasets_visible_to(request.user).filter(organization=organization),
        "models": selectors.models_visible_to(request.user).filter(organization=organization),
        "can_write": can_write(request.user, organization),
    }
    return render(request, "hub/organization.html", context)
