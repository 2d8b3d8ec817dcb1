"""Organizations and memberships."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from hub.models import Membership, Organization, Role


@transaction.atomic
def create_organization(*, owner: User, name: str, slug: str = "", description: str = "") -> Organization:
    slug = slug or slugify(name)
    if not slug:
        raise ValidationError({"slug": "a slug of letters, digits, '-' or '_' is required"})
    if Organization.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"an organization {slug!r} already exists"})
    organization = Organization.objects.create(slug=slug, name=name, description=description)
    Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    return organization


def add_member(*, organization: Organization, user: User, role: str = Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership
