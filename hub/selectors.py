"""Reads of the registry, always through the viewer's permissions."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from hub.models import (
    WRITER_ROLES,
    Dataset,
    DatasetFile,
    DatasetVersion,
    Membership,
    ModelVersion,
    Organization,
    RegisteredModel,
)
from hub.permissions import Viewer, acts_as_superuser, artifact_visible_q, memberships_of


def organizations_of(user: Viewer) -> QuerySet[Organization]:
    """Organizations the user belongs to (all of them for a superuser)."""
    if acts_as_superuser(user):
        return Organization.objects.all()
    return Organization.objects.filter(pk__in=memberships_of(user).values("organization_id"))


def writable_organizations(user: Viewer) -> QuerySet[Organization]:
    if acts_as_superuser(user):
        return Organization.objects.all()
    writer_memberships = memberships_of(user).filter(role__in=WRITER_ROLES)
    return Organization.objects.filter(pk__in=writer_memberships.values("organization_id"))


def members_of(organization: Organization) -> QuerySet[Membership]:
    return organization.memberships.select_related("user").order_by("user__username")


def datasets_visible_to(user: Viewer) -> QuerySet[Dataset]:
    return (
        Dataset.objects.filter(artifact_visible_q(user, Dataset))
        .select_related("organization")
        .annotate(version_count=Count("versions"), latest_version=Max("versions__number"))
    )


def models_visible_to(user: Viewer) -> QuerySet[RegisteredModel]:
    # Subqueries, not a join grouped by model: PostgreSQL computes them for the rows of the page only,
    # and counting the models (every page does) needs no join with their versions.
    versions = ModelVersion.objects.filter(model=OuterRef("pk")).order_by().values("model")
    return (
        RegisteredModel.objects.filter(artifact_visible_q(user, RegisteredModel))
        .select_related("organization")
        .annotate(
            version_count=Coalesce(Subquery(versions.annotate(n=Count("pk")).values("n")), 0),
            latest_version=Subquery(versions.annotate(top=Max("number")).values("top")),
        )
    )


def dataset_versions_visible_to(user: Viewer) -> QuerySet[DatasetVersion]:
    return (
        DatasetVersion.objects.filter(dataset__in=Dataset.objects.filter(artifact_visible_q(user, Dataset)))
        .select_related("dataset__organization")
        .prefetch_related("files__blob")
    )


def model_versions_visible_to(user: Viewer) -> QuerySet[ModelVersion]:
    return (
        ModelVersion.objects.filter(
            model__in=RegisteredModel.objects.filter(artifact_visible_q(user, RegisteredModel))
        )
        .select_related(
            "model__organization",
            "base_version__model__organization",
            "dataset_version__dataset__organization",
        )
        .prefetch_related("files__blob", "aliases")
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


def filter_artifacts(
    artifacts: QuerySet, *, query: str = "", organization: str = "", license: str = "", visibility: str = ""
) -> QuerySet:
    """Narrow visible datasets or models by a list's search box and its common filters."""
    if query:
        artifacts = artifacts.filter(
            Q(name__icontains=query) | Q(slug__icontains=query) | Q(description__icontains=query)
        )
    if organization:
        artifacts = artifacts.filter(organization__slug=organization)
    if license:
        artifacts = artifacts.filter(license__iexact=license)
    if visibility:
        artifacts = artifacts.filter(visibility=visibility)
    return artifacts


def filter_datasets(datasets: QuerySet[Dataset], *, format: str = "", **common: str) -> QuerySet[Dataset]:
    datasets = filter_artifacts(datasets, **common)
    if format:
        # A subquery, not a join: joining files would multiply the rows the version count sees.
        with_format = DatasetFile.objects.filter(format=format).values("version__dataset")
        datasets = datasets.filter(pk__in=with_format)
    return datasets


def filter_models(
    models: QuerySet[RegisteredModel], *, task: str = "", **common: str
) -> QuerySet[RegisteredModel]:
    models = filter_artifacts(models, **common)
    return models.filter(task=task) if task else models


SEARCH_LIMIT = 20
SEARCH_MAX_LENGTH = 200


@dataclass(frozen=True)
class SearchResults:
    query: str
    organizations: list[Organization]
    datasets: list[Dataset]
    models: list[RegisteredModel]

    @property
    def count(self) -> int:
        return len(self.organizations) + len(self.datasets) + len(self.models)


def clean_search_query(raw: str) -> str:
    """The query as searched: printable characters only (a NUL breaks some databases), trimmed, bounded."""
    printable = "".join(character for character in raw if character.isprintable())
    return printable.strip()[:SEARCH_MAX_LENGTH]


def search(user: Viewer, raw_query: str, *, limit: int = SEARCH_LIMIT) -> SearchResults:
    """Organizations (their pages are public), datasets and models the user may see whose slug, name or
    description contains the query; at most ``limit`` of each, most recently updated first."""
    query = clean_search_query(raw_query)
    if not query:
        return SearchResults(query="", organizations=[], datasets=[], models=[])
    matches = Q(name__icontains=query) | Q(slug__icontains=query) | Q(description__icontains=query)
    return SearchResults(
        query=query,
        organizations=list(Organization.objects.filter(matches).order_by("slug")[:limit]),
        datasets=list(datasets_visible_to(user).filter(matches).order_by("-updated_at")[:limit]),
        models=list(models_visible_to(user).filter(matches).order_by("-updated_at")[:limit]),
    )
