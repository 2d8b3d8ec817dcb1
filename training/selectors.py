"""Reads of runs, through the viewer's memberships."""

from __future__ import annotations

from django.db.models import QuerySet

from hub.permissions import Viewer
from hub.selectors import organizations_of
from training.models import FineTuneRun, RunMetric

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
