"""The one permission layer: who may see and change what. Pages, the API and downloads all ask here."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q

from hub.models import WRITER_ROLES, Membership, Organization, Role, Visibility

Viewer = User | AnonymousUser


def role_in(user: Viewer, organization: Organization) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user=user, organization=organization).values_list("role", flat=True).first()
    )


def visible_q(user: Viewer, organization_field: str = "organization") -> Q:
    """A filter for artifacts (anything with an organization and a visibility) the user may see."""
    public = Q(visibility=Visibility.PUBLIC)
    if not user.is_authenticated:
        return public
    if user.is_superuser:
        return Q()
    member_of = Membership.objects.filter(user=user).values("organization_id")
    return public | Q(visibility=Visibility.INTERNAL) | Q(**{f"{organization_field}__in": member_of})


def can_view_organization(user: Viewer, organization: Organization) -> bool:
    return user.is_authenticated and (user.is_superuser or role_in(user, organization) is not None)


def can_write(user: Viewer, organization: Organization) -> bool:
    """Create datasets, models and runs in the organization."""
    if not user.is_authenticated:
        return False
    return user.is_superuser or role_in(user, organization) in WRITER_ROLES


def can_administer(user: Viewer, organization: Organization) -> bool:
    if not user.is_authenticated:
        return False
    return user.is_superuser or role_in(user, organization) in (Role.OWNER, Role.ADMIN)
