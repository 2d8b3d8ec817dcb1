"""Reads of runs, through the viewer's memberships."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, QuerySet, Sum

from hub.models import Organization
from hub.permissions import Viewer
from hub.selectors import organizations_of
from training.models import ComputePool, FineTuneRun, RunMetric

MAX_POINTS_PER_SERIES = 500


def runs_visible_to(user: Viewer) -> QuerySet[FineTuneRun]:
    """Runs are private to the organization that started them."""
    return FineTuneRun.objects.filter(organization__in=organizations_of(user)).select_related(
        "organization",
        "created_by",
        "base_version__model__organization",
        "dataset_version__dataset__organization",
        "output_model__organization",
        "output_version__model__organization",
        "pool__organization",
    )


def metric_series(run: FineTuneRun) -> dict[str, list[list[float]]]:
    """Each metric as [[step, value], …], evenly thinned to at most MAX_POINTS_PER_SERIES points."""
    series: dict[str, list[list[float]]] = {}
    for name, step, value in (
        RunMetric.objects.filter(run=run).order_by("name", "step").values_list("name", "step", "value")
    ):
        series.setdefault(name, []).append([step, value])
    for name, points in series.items():
        if len(points) > MAX_POINTS_PER_SERIES:
            stride = len(points) / MAX_POINTS_PER_SERIES
            series[name] = [points[int(i * stride)] for i in range(MAX_POINTS_PER_SERIES - 1)] + [points[-1]]
    return series


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
