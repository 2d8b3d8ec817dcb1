"""Reads of governance records."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from governance.models import EvaluationReport, JobStatus
from hub.models import ModelVersion, Split
from hub.selectors import dataset_versions_visible_to, model_versions_visible_to


def reports_visible_to(user: User | AnonymousUser) -> QuerySet[EvaluationReport]:
    """Reports on a model version and a dataset version that the user can both see."""
    return EvaluationReport.objects.filter(
        model_version__in=model_versions_visible_to(user),
        dataset_version__in=dataset_versions_visible_to(user),
    ).select_related("model_version__model__organization", "dataset_version__dataset__organization")


def evaluations_of(version: ModelVersion) -> QuerySet[EvaluationReport]:
    """All the version's evaluation reports, whatever their status, newest first."""
    return version.evaluations.select_related("dataset_version__dataset__organization").order_by(
        "-created_at", "-pk"
    )


def headline_evaluation(version: ModelVersion) -> EvaluationReport | None:
    """The version's latest succeeded report, preferring the test split of its own training dataset
    version when one exists."""
    succeeded = evaluations_of(version).filter(status=JobStatus.SUCCEEDED)
    if version.dataset_version_id is not None:
        own_test = succeeded.filter(dataset_version_id=version.dataset_version_id, split=Split.TEST).first()
        if own_test is not None:
            return own_test
    return succeeded.first()
