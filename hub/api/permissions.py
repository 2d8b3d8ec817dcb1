"""API permission classes. What a user may see or change is decided by hub.permissions."""

from django.core.exceptions import PermissionDenied
from rest_framework import permissions

from hub.models import AccessToken, Organization


class TokenScope(permissions.BasePermission):
    """A token with ``read`` scope may only read."""

    message = "This access token has read scope; writing needs a token with write scope."

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if isinstance(token, AccessToken) and request.method not in permissions.SAFE_METHODS:
            return token.scope == AccessToken.Scope.WRITE
        return True


def token_allows_organization(request, organization: Organization) -> bool:
    """A token restricted to one organization may not act on another's behalf."""
    token = request.auth
    return not (isinstance(token, AccessToken) and token.organization_id not in (None, organization.pk))


def require_token_organization(request, organization: Organization) -> None:
    if not token_allows_organization(request, organization):
        raise PermissionDenied(
            f"This access token is restricted to another organization than {organization.slug}."
        )
