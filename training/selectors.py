"""Reads of runs, through the viewer's memberships."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Prefetch, Q, QuerySet, Sum

from hub.models import DatasetVersion, ModelVersion, Organization, RegisteredModel
from hub.permissions import Viewer, acts_as_superuser
from hub.selectors import organizations_of
from training.models import ComputePool, FineTuneRun, RunMetric

MAX_POINTS_PER_SERIES = 500
MAX_POINTS_LIMIT = 5000  # the most a client may ask for per series


def runs_visible_to(user: Viewer) -> QuerySet[FineTuneRun]:
    """Runs are private to the organization that started them.

    The version and model chains are prefetched (one query each) rather than joined: joining all of them
    made a 17-table query whose planning alone took over 100 ms, more than running it."""
    versions = ModelVersion.objects.select_related("model__organization")
    return _visible_runs(user).prefetch_related(
        Prefetch("base_version", queryset=versions),
        Prefetch("output_version", queryset=versions),
        Prefetch("dataset_version", queryset=DatasetVersion.objects.select_related("dataset__organization")),
        Prefetch("output_model", queryset=RegisteredModel.objects.select_related("organization")),
    )


def runs_listed_to(user: Viewer) -> QuerySet[FineTuneRun]:
    """``runs_visible_to`` for lists that name the related versions and models but show nothing else of
    them (the API): the prefetches read only the columns of their names, not the versions' JSON."""
    versions = ModelVersion.objects.select_related("model__organization")
    versions = versions.only("number", "model__slug", "model__organization__slug")
    models = RegisteredModel.objects.select_related("organization").only("slug", "organization__slug")
    return _visible_runs(user).prefetch_related(
        Prefetch("base_version", queryset=versions),
        Prefetch("output_version", queryset=versions),
        Prefetch(
            "dataset_version",
            queryset=DatasetVersion.objects.select_related("dataset__organization").only(
                "number", "dataset__slug", "dataset__organization__slug"
            ),
        ),
        Prefetch("output_model", queryset=models),
    )


def _visible_runs(user: Viewer) -> QuerySet[FineTuneRun]:
    # A superuser sees every run: no semi-join with all organizations, which keeps the planner from
    # reading a page in the order of the run indexes.
    runs = FineTuneRun.objects.all()
    if not acts_as_superuser(user):
        runs = runs.filter(organization__in=organizations_of(user))
    return runs.select_related("organization", "created_by", "pool__organization", "policy_check")


def metric_series(
    run: FineTuneRun, *, names: list[str] | None = None, max_points: int = MAX_POINTS_PER_SERIES
) -> dict[str, list[list[float]]]:
    """Each metric (or only those in ``names``) as [[step, value], …], down-sampled to at most
    ``max_points`` points by ``min_max_buckets`` so that spikes stay visible in a chart."""
    points = RunMetric.objects.filter(run=run)
    if names:
        points = points.filter(name__in=names)
    series: dict[str, list[list[float]]] = {}
    for name, step, value in points.order_by("name", "step").values_list("name", "step", "value"):
        series.setdefault(name, []).append([step, value])
    return {name: min_max_buckets(values, max_points) for name, values in series.items()}


def min_max_buckets(points: list[list[float]], max_points: int) -> list[list[float]]:
    """At most ``max_points`` of ``points`` (sorted by step): the first and the last, and from each of
    equal-sized buckets in between its lowest and highest value, in step order."""
    if len(points) <= max_points:
        return points
    first, last, inner = points[0], points[-1], points[1:-1]
    buckets = max(1, (max_points - 2) // 2)
    size = len(inner) / buckets
    kept = [first]
    for index in range(buckets):
        bucket = inner[int(index * size) : int((index + 1) * size)]
        if not bucket:
            continue
        low = min(bucket, key=lambda point: point[1])
        high = max(bucket, key=lambda point: point[1])
        kept.extend([low] if low is high else sorted((low, high), key=lambda point: point[0]))
    kept.append(last)
    return kept


def eta_seconds(run: FineTuneRun, now) -> float | None:
    if run.status != FineTuneRun.Status.RUNNING or not run.started_at or not run.step or not run.total_steps:
        return None
    elapsed = (now - run.started_at).total_seconds()
    return max(0.0, elapsed * (run.total_steps - run.step) / run.step)


def pools_usable_by(organization: Organization) -> QuerySet[ComputePool]:
    """Pools the organization's runs may use: its own, those shared with it, those shared with all."""
    return (
        ComputePool.objects.filter(
            Q(organization=organization) | Q(shared_with_all=True) | Q(shared_with=organization)
        )
        .distinct()
        .select_related("organization")
    )


def pools_visible_to(user: Viewer) -> QuerySet[ComputePool]:
    """Pools of the user's organizations and those any of them may use."""
    organizations = organizations_of(user)
    return (
        ComputePool.objects.filter(
            Q(organization__in=organizations) | Q(shared_with_all=True) | Q(shared_with__in=organizations)
        )
        .distinct()
        .select_related("organization")
        .prefetch_related("shared_with")
    )


@dataclass(frozen=True)
class PoolUsage:
    """Accelerator-seconds a pool spent on runs: the inputs of the resource-sharing factor R."""

    own_seconds: float
    other_seconds: float

    @property
    def total_seconds(self) -> float:
        return self.own_seconds + self.other_seconds


def pool_usages(pools: list[ComputePool]) -> dict[int, PoolUsage]:
    """``pool_usage`` of each pool (by pk) in one query, for a list of pools."""
    own = Q(organization_id=F("pool__organization_id"))
    totals = (
        FineTuneRun.objects.filter(pool__in=pools, status__in=FineTuneRun.FINISHED)
        .order_by()
        .values("pool_id")
        .annotate(
            own=Sum("accelerator_seconds", filter=own, default=0.0),
            other=Sum("accelerator_seconds", filter=~own, default=0.0),
        )
    )
    usages = {row["pool_id"]: PoolUsage(own_seconds=row["own"], other_seconds=row["other"]) for row in totals}
    return {pool.pk: usages.get(pool.pk, PoolUsage(own_seconds=0.0, other_seconds=0.0)) for pool in pools}


def pool_usage(pool: ComputePool, since: datetime | None = None) -> PoolUsage:
    """Seconds of finished runs on the pool, split by whether the run's organization owns the pool."""
    runs = FineTuneRun.objects.filter(pool=pool, status__in=FineTuneRun.FINISHED)
    if since is not None:
        runs = runs.filter(finished_at__gte=since)
    totals = runs.aggregate(
        own=Sum("accelerator_seconds", filter=Q(organization_id=pool.organization_id), default=0.0),
        other=Sum("accelerator_seconds", filter=~Q(organization_id=pool.organization_id), default=0.0),
    )
    return PoolUsage(own_seconds=totals["own"], other_seconds=totals["other"])
