"""Compute pools: an organization's workers under a queue of their own, which it may share."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from hub import audit
from hub.models import Organization
from hub.permissions import can_administer
from training.models import ComputePool


def create_pool(
    *,
    user: User,
    organization: Organization,
    slug: str,
    name: str = "",
    shared_with_all: bool = False,
    shared_with: Iterable[Organization] = (),
) -> ComputePool:
    """Register a pool; its workers then consume ``pool.queue`` (see README, Workers)."""
    if not can_administer(user, organization):
        raise PermissionDenied(f"Only administrators of {organization.slug} may add compute pools.")
    if not slug or slug != slugify(slug):
        raise ValidationError({"slug": "use lower-case letters, digits and hyphens"})
    if ComputePool.objects.filter(organization=organization, slug=slug).exists():
        raise ValidationError({"slug": f"{organization.slug} already has a pool {slug!r}"})
    with transaction.atomic():
        pool = ComputePool.objects.create(
            organization=organization,
            slug=slug,
            name=name or slug,
            queue=ComputePool.queue_for(organization.slug, slug),
            shared_with_all=shared_with_all,
            created_by=user,
        )
        pool.shared_with.set([org for org in shared_with if org.pk != organization.pk])
        audit.record(
            "pool.create", actor=user, organization=organization, target=pool,
            after={"queue": pool.queue, **_sharing(pool)},
        )  # fmt: skip
    return pool


def _sharing(pool: ComputePool) -> dict:
    return {
        "shared_with_all": pool.shared_with_all,
        "shared_with": sorted(pool.shared_with.values_list("slug", flat=True)),
    }


def share_pool(
    *,
    user: User,
    pool: ComputePool,
    shared_with_all: bool,
    shared_with: Iterable[Organization],
) -> ComputePool:
    """Replace who may run on the pool besides its own organization."""
    if not can_administer(user, pool.organization):
        raise PermissionDenied(f"Only administrators of {pool.organization.slug} may share its pools.")
    with transaction.atomic():
        before = _sharing(pool)
        pool.shared_with_all = shared_with_all
        pool.save(update_fields=["shared_with_all"])
        pool.shared_with.set([org for org in shared_with if org.pk != pool.organization_id])
        audit.record(
            "pool.share", actor=user, organization=pool.organization, target=pool,
            before=before, after=_sharing(pool),
        )  # fmt: skip
    return pool
