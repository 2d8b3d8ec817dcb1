"""Reads of the registry, always through the viewer's permissions."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet
from django.http import Http404

from hub.models import (
    WRITER_ROLES,
    Dataset,
    DatasetVersion,
    ModelVersion,
    Organization,
    RegisteredModel,
)
from hub.permissions import Viewer, visible_q


def organizations_of(user: Viewer) -> QuerySet[Organization]:
    if not user.is_authenticated:
        return Organization.objects.none()
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(memberships__user=user)


def writable_organizations(user: Viewer) -> QuerySet[Organization]:
    if user.is_authenticated and user.is_superuser:
        return Organization.objects.all()
    return organizations_of(user).filter(memberships__user=user, memberships__role__in=WRITER_ROLES)


def datasets_visible_to(user: Viewer) -> QuerySet[Dataset]:
    return (
        Dataset.objects.filter(visible_q(user))
        .select_related("organization")
        .annotate(version_count=Count("versions"), latest_version=Max("versions__number"))
    )


def models_visible_to(user: Viewer) -> QuerySet[RegisteredModel]:
    return (
        RegisteredModel.objects.filter(visible_q(user))
        .select_related("organization")
        .annotate(version_count=Count("versions"), latest_version=Max("versions__number"))
    )


def dataset_versions_visible_to(user: Viewer) -> QuerySet[DatasetVersion]:
    return (
        DatasetVersion.objects.filter(dataset__in=Dataset.objects.filter(visible_q(user)))
        .select_related("dataset__organization")
        .prefetch_related("files__blob")
    )


def model_versions_visible_to(user: Viewer) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(model__in=RegisteredModel.objects.filter(visible_q(user)))
        .select_related(
            "model__organization", "base_version__model__organization", "dataset_version__dataset"
        )
        .prefetch_related("files__blob")
    )


def get_dataset(user: Viewer, org: str, slug: str) -> Dataset:
    try:
        return datasets_visible_to(user).get(organization__slug=org, slug=slug)
    except Dataset.DoesNotExist:
        raise Http404("No such dataset, or it is not visible to you.") from None


def get_model(user: Viewer, org: str, slug: str) -> RegisteredModel:
    try:
        return models_visible_to(user).get(organization__slug=org, slug=slug)
    except RegisteredModel.DoesNotExist:
        raise Http404("No such model, or it is not visible to you.") from None
