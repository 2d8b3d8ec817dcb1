"""Daily snapshots of the scores: E and C of the hub and of every organization, F of every published
model version with a headline evaluation. The dashboard draws the trends from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date as Date
from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from governance.metrics.scores import Score
from governance.models import EvaluationReport, JobStatus, ScoreSnapshot
from governance.scores import (
    PUBLISHED,
    Scores,
    Window,
    hub_scores,
    organization_scores,
    version_objective,
    window_ending,
)
from hub.models import ModelVersion, Organization

Progress = Callable[[int, int], None]


def snapshot_window(date: Date | None = None, days: int | None = None) -> Window:
    """The window a day's snapshot covers: it ends now for today, at the end of the day for a past day."""
    end = timezone.now()
    if date is not None:
        end_of_day = timezone.make_aware(datetime.combine(date + timedelta(days=1), time.min))
        end = min(end, end_of_day)
    return window_ending(end, days)


def take_snapshots(
    *, date: Date | None = None, window: Window | None = None, progress: Progress | None = None
) -> int:
    """Compute every score and store the day's snapshots, replacing any taken earlier that day.

    Counts that carry no date (members, visibility, policies attached) are read as they are now, so a
    snapshot for a past day is an approximation of what that day would have shown. Returns the number
    of rows stored.
    """
    date = date or timezone.localdate()
    window = window or snapshot_window(date)
    per_organization = organization_scores(window)
    hub = hub_scores(window, per_organization=per_organization)
    return store_snapshots(
        date=date, window=window, hub=hub, per_organization=per_organization, progress=progress
    )


def store_snapshots(
    *,
    date: Date,
    window: Window,
    hub: Scores | None,
    per_organization: Mapping[int, Scores],
    organization: Organization | None = None,
    progress: Progress | None = None,
) -> int:
    """Store already computed scores as the day's snapshots; ``organization`` limits them to one
    organization (its E and C and its versions' F) and leaves the rest of the day's rows alone.

    ``progress(done, total)`` is called as each organization and each version is prepared.
    """
    if organization is not None:
        per_organization = {organization.pk: per_organization[organization.pk]}
    versions = _versions_with_evaluation(organization)
    total = len(per_organization) + len(versions)
    window_days = window.days

    rows: list[ScoreSnapshot] = []
    if hub is not None and organization is None:
        for score in (hub.effect, hub.capability):
            rows.append(_score_row(date, window_days, score, scope=ScoreSnapshot.Scope.HUB))
    done = 0
    for organization_id, scores in per_organization.items():
        for score in (scores.effect, scores.capability):
            rows.append(
                _score_row(
                    date,
                    window_days,
                    score,
                    scope=ScoreSnapshot.Scope.ORGANIZATION,
                    organization_id=organization_id,
                )
            )
        done += 1
        _report(progress, done, total)
    for version in versions:
        objective = version_objective(version)
        if objective is not None:
            rows.append(_objective_row(date, window_days, version, objective))
        done += 1
        _report(progress, done, total)

    with transaction.atomic():
        _stored_on(date, organization).delete()
        ScoreSnapshot.objects.bulk_create(rows)
    return len(rows)


def _versions_with_evaluation(organization: Organization | None) -> list[ModelVersion]:
    # Only a version with a succeeded evaluation has a headline report, so only those are asked for F.
    succeeded = EvaluationReport.objects.filter(model_version=OuterRef("pk"), status=JobStatus.SUCCEEDED)
    versions = ModelVersion.objects.filter(Exists(succeeded), status__in=PUBLISHED)
    if organization is not None:
        versions = versions.filter(model__organization=organization)
    return list(versions.order_by("pk"))


def _stored_on(date: Date, organization: Organization | None):
    stored = ScoreSnapshot.objects.filter(date=date)
    if organization is None:
        return stored
    return stored.filter(
        Q(scope=ScoreSnapshot.Scope.ORGANIZATION, organization=organization)
        | Q(scope=ScoreSnapshot.Scope.MODEL_VERSION, model_version__model__organization=organization)
    )


def _score_row(date: Date, window_days: int, score: Score, **subject) -> ScoreSnapshot:
    return ScoreSnapshot(
        date=date,
        score=score.symbol,
        value=score.value,
        geometric_mean=score.geometric_mean,
        factors=score.to_dict(),
        window_days=window_days,
        **subject,
    )


def _objective_row(date: Date, window_days: int, version: ModelVersion, objective: dict) -> ScoreSnapshot:
    # F is lower-is-better; the headline column holds the governance score 1 − F, as the dashboard shows.
    return ScoreSnapshot(
        date=date,
        scope=ScoreSnapshot.Scope.MODEL_VERSION,
        model_version=version,
        score="F",
        value=objective["value"],
        geometric_mean=objective["governance_score"],
        factors=objective,
        window_days=window_days,
    )


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
