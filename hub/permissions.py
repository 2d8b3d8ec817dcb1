"""The one permission layer: who may see and change what. Pages, the API and downloads all ask here.

A request authenticated with an access token restricted to one organization carries that
restriction on its user (``token_organization_id``, set by hub.authentication): every rule below
then counts only that organization's membership, for reads as for writes.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model, Q, QuerySet

from hub.models import WRITER_ROLES, Dataset, Membership, Organization, RegisteredModel, Role, Visibility

Viewer = User | AnonymousUser
ADMIN_ROLES = (Role.OWNER, Role.ADMIN)

# Rules other apps register (the hub never imports them): access granted between organizations widens what
# a user sees, and an artifact's usage policy may refuse its use (its downloads) to whoever sees it.
VisibilityRule = Callable[[Viewer, type[Model]], Q | None]
UseRule = Callable[[Viewer, Dataset | RegisteredModel], str | None]
_visibility_rules: list[VisibilityRule] = []
_use_rules: list[UseRule] = []


def token_organization_id(user: Viewer) -> int | None:
    return getattr(user, "token_organization_id", None)


def memberships_of(user: Viewer) -> QuerySet[Membership]:
    """The memberships that count for this request (narrowed by an organization-restricted token)."""
    if not user.is_authenticated:
        return Membership.objects.none()
    memberships = Membership.objects.filter(user=user)
    restricted_to = token_organization_id(user)
    if restricted_to is not None:
        memberships = memberships.filter(organization_id=restricted_to)
    return memberships


def acts_as_superuser(user: Viewer) -> bool:
    return user.is_authenticated and user.is_superuser and token_organization_id(user) is None


def role_in(user: Viewer, organization: Organization) -> str | None:
    return memberships_of(user).filter(organization=organization).values_list("role", flat=True).first()


def visible_q(user: Viewer, organization_field: str = "organization") -> Q:
    """A filter for artifacts (anything with an organization and a visibility) the user may see."""
    public = Q(visibility=Visibility.PUBLIC)
    if not user.is_authenticated:
        return public
    if acts_as_superuser(user):
        return Q()
    member_of = memberships_of(user).values("organization_id")
    return public | Q(visibility=Visibility.INTERNAL) | Q(**{f"{organization_field}__in": member_of})


def register_visibility_rule(rule: VisibilityRule) -> None:
    """Add ``rule(user, model_class) -> Q | None``: a filter of more datasets or models the user may see."""
    if rule not in _visibility_rules:
        _visibility_rules.append(rule)


def register_use_rule(rule: UseRule) -> None:
    """Add ``rule(user, artifact) -> str | None``: why the user may not use an artifact it sees, or None."""
    if rule not in _use_rules:
        _use_rules.append(rule)


def artifact_visible_q(user: Viewer, model_class: type[Dataset] | type[RegisteredModel]) -> Q:
    """A filter for the datasets or models the user may see: ``visible_q`` widened by the registered rules."""
    visible = visible_q(user)
    if not user.is_authenticated or acts_as_superuser(user):
        return visible  # never OR into Q(): an empty Q OR-ed with a rule would narrow a superuser's view
    for rule in _visibility_rules:
        widened = rule(user, model_class)
        if widened is not None:
            visible |= widened
    return visible


def use_refusal(user: Viewer, artifact: Dataset | RegisteredModel) -> str | None:
    """Why none of the user's organizations may use (download) an artifact it can see; None when one may."""
    for rule in _use_rules:
        refusal = rule(user, artifact)
        if refusal:
            return refusal
    return None


def can_view_organization(user: Viewer, organization: Organization) -> bool:
    """See an organization's members and runs."""
    return acts_as_superuser(user) or role_in(user, organization) is not None


def can_write(user: Viewer, organization: Organization) -> bool:
    """Create datasets, models and runs in the organization."""
    return acts_as_superuser(user) or role_in(user, organization) in WRITER_ROLES


def can_administer(user: Viewer, organization: Organization) -> bool:
    """Manage the organization's members."""
    return acts_as_superuser(user) or role_in(user, organization) in ADMIN_ROLES


def is_owner(user: Viewer, organization: Organization) -> bool:
    return acts_as_superuser(user) or role_in(user, organization) == Role.OWNER
