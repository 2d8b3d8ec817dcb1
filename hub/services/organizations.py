"""Organizations and their members.

Owners and admins manage members; only owners grant or take the owner role, and an organization
always keeps at least one owner.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from hub import audit
from hub.models import Membership, Organization, Role
from hub.permissions import Viewer, can_administer, is_owner


@transaction.atomic
def create_organization(*, owner: User, name: str, slug: str = "", description: str = "") -> Organization:
    errors = {}
    if not name.strip():
        errors["name"] = "a name is required"
    slug = slug or slugify(name)
    if not slug or slug != slugify(slug):
        errors["slug"] = "use lower-case letters, digits and hyphens"
    elif Organization.objects.filter(slug=slug).exists():
        errors["slug"] = f"an organization {slug!r} already exists"
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            organization = Organization.objects.create(slug=slug, name=name.strip(), description=description)
    except IntegrityError:
        raise ValidationError({"slug": f"an organization {slug!r} already exists"}) from None
    Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    audit.record(
        "organization.create", actor=owner, organization=organization, target=organization,
        after={"slug": organization.slug, "name": organization.name, "owner": owner.get_username()},
    )  # fmt: skip
    return organization


def _check_role_change(actor: Viewer, organization: Organization, old_role: str | None, new_role: str | None):
    if not can_administer(actor, organization):
        raise PermissionDenied(f"Only owners and admins of {organization.slug} manage its members.")
    if Role.OWNER in (old_role, new_role) and not is_owner(actor, organization):
        raise PermissionDenied("Only an owner may grant or take the owner role.")
    if new_role is not None and new_role not in Role.values:
        raise ValidationError({"role": f"must be one of {', '.join(Role.values)}, not {new_role!r}"})


def _keep_an_owner(organization: Organization, leaving: Membership) -> None:
    if (
        leaving.role == Role.OWNER
        and not organization.memberships.filter(role=Role.OWNER).exclude(pk=leaving.pk).exists()
    ):
        raise ValidationError({"role": f"{organization.slug} must keep at least one owner"})


@transaction.atomic
def add_member(
    *, actor: Viewer, organization: Organization, username: str, role: str = Role.MEMBER
) -> Membership:
    # Permission first: whether a username exists is not for a non-admin to learn.
    _check_role_change(actor, organization, None, role)
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({"username": f"no active user {username!r}"})
    if organization.memberships.filter(user=user).exists():
        raise ValidationError({"username": f"{username} is already a member of {organization.slug}"})
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    audit.record(
        "member.add", actor=actor, organization=organization, target=membership,
        after={"user": user.get_username(), "role": role},
    )  # fmt: skip
    return membership


@transaction.atomic
def change_role(*, actor: Viewer, membership: Membership, role: str) -> Membership:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _check_role_change(actor, membership.organization, membership.role, role)
    if role != Role.OWNER:
        _keep_an_owner(membership.organization, membership)
    before = {"user": membership.user.get_username(), "role": membership.role}
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        "member.role", actor=actor, organization=membership.organization, target=membership,
        before=before, after={**before, "role": role},
    )  # fmt: skip
    return membership


@transaction.atomic
def remove_member(*, actor: Viewer, membership: Membership) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    leaving_self = actor.is_authenticated and membership.user_id == actor.pk
    if not leaving_self:
        _check_role_change(actor, membership.organization, membership.role, None)
    _keep_an_owner(membership.organization, membership)
    audit.record(
        "member.remove", actor=actor, organization=membership.organization, target=membership,
        before={"user": membership.user.get_username(), "role": membership.role},
    )  # fmt: skip
    membership.delete()


def ensure_member(*, organization: Organization, user: User, role: str) -> Membership:
    """Give the user this role, whatever it was; for set-up commands such as load_demo, not for requests."""
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership
