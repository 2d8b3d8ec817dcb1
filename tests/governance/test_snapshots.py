"""Daily score snapshots (the service, the management command and the Celery task), and the worked
examples of E and C in docs/scores.md whose numbers they store."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from governance.metrics.scores import (
    CapabilityCounts,
    EffectCounts,
    collaboration_effect,
    collaborative_capability,
)
from governance.models import EvaluationReport, JobStatus, ScoreSnapshot
from governance.services.snapshots import take_snapshots
from governance.tasks import snapshot_scores
from hub.models import Dataset, DatasetVersion, ModelVersion, RegisteredModel, Split, Visibility
from tests.factories import MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hub():
    """Two organizations: acme shares a dataset and has a published version with an evaluation
    (plus a draft one), beta has a member and nothing else."""
    acme = OrganizationFactory(slug="acme")
    beta = OrganizationFactory(slug="beta")
    MembershipFactory(organization=acme)
    MembershipFactory(organization=beta)
    dataset = Dataset.objects.create(
        organization=acme, slug="reviews", name="Reviews", license="CC-BY-4.0", visibility=Visibility.PUBLIC
    )
    dataset_version = DatasetVersion.objects.create(
        dataset=dataset,
        number=1,
        text_field="text",
        label_field="label",
        row_counts={"train": 80, "test": 20},
    )
    model = RegisteredModel.objects.create(organization=acme, slug="tiny", name="Tiny", license="MIT")
    published = ModelVersion.objects.create(
        model=model,
        number=1,
        origin=ModelVersion.Origin.UPLOAD,
        status=ModelVersion.Status.PUBLISHED,
        published_at=timezone.now(),
    )
    ModelVersion.objects.create(model=model, number=2, origin=ModelVersion.Origin.UPLOAD)
    EvaluationReport.objects.create(
        model_version=published,
        dataset_version=dataset_version,
        split=Split.TEST,
        status=JobStatus.SUCCEEDED,
        accuracy=0.9,
        delta=0.1,
        epsilon=0.2,
        theta=0.3,
        objective=0.2,
    )
    return {"acme": acme, "beta": beta, "version": published}


def test_snapshots_cover_the_hub_every_organization_and_evaluated_published_versions(hub):
    stored = take_snapshots()

    assert stored == 7  # hub E, C; acme E, C; beta E, C; F of the published version
    today = timezone.localdate()
    hub_rows = ScoreSnapshot.objects.filter(scope=ScoreSnapshot.Scope.HUB, date=today)
    assert sorted(hub_rows.values_list("score", flat=True)) == ["C", "E"]
    for organization in (hub["acme"], hub["beta"]):
        rows = ScoreSnapshot.objects.filter(scope=ScoreSnapshot.Scope.ORGANIZATION, organization=organization)
        assert sorted(rows.values_list("score", flat=True)) == ["C", "E"]
    effect = ScoreSnapshot.objects.get(
        scope=ScoreSnapshot.Scope.ORGANIZATION, organization=hub["acme"], score="E"
    )
    assert effect.window_days == 90
    assert effect.factors["score"] == "E"
    assert [factor["key"] for factor in effect.factors["factors"]] == ["D", "T", "N", "M"]
    assert (
        effect.factors["value"] == effect.value and effect.factors["geometric_mean"] == effect.geometric_mean
    )

    objective = ScoreSnapshot.objects.get(scope=ScoreSnapshot.Scope.MODEL_VERSION)
    assert objective.model_version == hub["version"] and objective.organization is None
    assert objective.score == "F"
    assert objective.value == pytest.approx(0.2)
    assert objective.geometric_mean == pytest.approx(0.8)
    assert objective.factors["terms"] == {"delta": 0.1, "epsilon": 0.2, "theta": 0.3}


def test_a_second_snapshot_the_same_day_replaces_the_first(hub):
    take_snapshots()
    first_ids = set(ScoreSnapshot.objects.values_list("pk", flat=True))
    take_snapshots()

    assert ScoreSnapshot.objects.count() == 7
    assert not first_ids & set(ScoreSnapshot.objects.values_list("pk", flat=True))
    yesterday = timezone.localdate() - timedelta(days=1)
    take_snapshots(date=yesterday)
    assert ScoreSnapshot.objects.count() == 14
    assert ScoreSnapshot.objects.filter(date=yesterday).count() == 7


def test_progress_is_reported_for_each_organization_and_version(hub):
    calls = []
    take_snapshots(progress=lambda done, total: calls.append((done, total)))

    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_the_command_prints_the_scores_and_stores_them_with_its_options(hub):
    out = StringIO()
    call_command("compute_scores", "--days", "30", "--date", "2024-03-01", stdout=out)

    text = out.getvalue()
    assert "(30 days)" in text
    for name in ("hub", "acme", "beta"):
        assert name in text
    assert "E   n/a (n/a factors: " in text and "C   n/a (n/a factors: A, S, K, R)" in text
    assert "stored 7 snapshots for 2024-03-01" in text
    rows = ScoreSnapshot.objects.filter(date=date(2024, 3, 1))
    assert rows.count() == 7
    assert set(rows.values_list("window_days", flat=True)) == {30}


def test_the_command_for_one_organization_stores_only_its_rows(hub):
    take_snapshots()
    out = StringIO()
    call_command("compute_scores", "--organization", "acme", stdout=out)

    assert "acme" in out.getvalue() and "beta" not in out.getvalue()
    assert ScoreSnapshot.objects.count() == 7  # acme's three rows replaced, the others kept
    assert ScoreSnapshot.objects.filter(scope=ScoreSnapshot.Scope.HUB).count() == 2


def test_no_store_prints_and_stores_nothing(hub):
    out = StringIO()
    call_command("compute_scores", "--no-store", stdout=out)

    assert "acme" in out.getvalue()
    assert not ScoreSnapshot.objects.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--date", "01/03/2024", "YYYY-MM-DD"),
        ("--date", "2024-02-30", "YYYY-MM-DD"),
        ("--date", (date.today() + timedelta(days=2)).isoformat(), "in the future"),
        ("--days", "0", "1 or more"),
        ("--days", "ninety", "1 or more"),
        ("--organization", "nobody", "no organization"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(hub, option, value, message):
    with pytest.raises(CommandError, match=message):
        call_command("compute_scores", option, value, stdout=StringIO())
    assert not ScoreSnapshot.objects.exists()


def test_the_celery_task_takes_the_snapshots_when_called_directly(hub):
    assert snapshot_scores() == 7
    assert ScoreSnapshot.objects.filter(date=timezone.localdate()).count() == 7


# docs/scores.md §1 and §2: the organization "lakeside".
LAKESIDE_EFFECT = EffectCounts(
    datasets=5,
    shared_datasets=3,
    shared_datasets_used=2,
    cards_touched=4,
    card_completeness_sum=0.9 + 0.7 + 0.8 + 0.6,
    published_artifacts=7,
    published_with_policy=4,
    policy_checks=20,
    policy_checks_passed=18,
    reviews_requested=4,
    reviews_on_time=3,
    finished_runs=10,
    multi_organization_runs=4,
    members=8,
    active_members=6,
)
LAKESIDE_CAPABILITY = CapabilityCounts(
    published_versions=3,
    gain_sum=0.40 + 0.10 + 0.25,
    versions_with_gain=3,
    shared_records=9_000 + 6_000,
    new_best_versions=1,
    published_models=2,
    published_models_used=1,
    pool_seconds=36_000.0,
    pool_seconds_for_others=10_800.0,
)


def test_the_documented_example_of_e():
    effect = collaboration_effect(LAKESIDE_EFFECT)

    factors = {factor.key: factor.value for factor in effect.factors}
    assert factors == pytest.approx({"D": 0.632456, "T": 0.75, "N": 0.727928, "M": 0.547723}, abs=1e-6)
    assert effect.value == pytest.approx(0.189121, abs=1e-6)
    assert effect.geometric_mean == pytest.approx(0.659455, abs=1e-6)
    assert effect.bottleneck.key == "M"

    idle = collaboration_effect(
        dataclasses.replace(LAKESIDE_EFFECT, finished_runs=0, multi_organization_runs=0)
    )
    assert idle.value is None and idle.geometric_mean is None
    assert idle.missing == ["M"] and idle.bottleneck.key == "D"


def test_the_documented_example_of_c():
    capability = collaborative_capability(LAKESIDE_CAPABILITY, 10_000)

    factors = {factor.key: factor.value for factor in capability.factors}
    assert factors == pytest.approx({"A": 0.25, "B": 0.6, "S": 1 / 3, "K": 0.5, "R": 0.3})
    assert capability.value == pytest.approx(0.0075)
    assert capability.geometric_mean == pytest.approx(0.375848, abs=1e-6)
    assert capability.bottleneck.key == "A"
