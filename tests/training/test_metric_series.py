"""A run's metric series over the API: chosen by name, down-sampled to a bounded number of points that
keep the extremes, and bad parameters answered with a 400 naming the field."""

from __future__ import annotations

import pytest

from hub.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory
from training.models import FineTuneRun, RunMetric
from training.selectors import MAX_POINTS_PER_SERIES, min_max_buckets

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(organization, owner, run_inputs):
    version, data_version = run_inputs
    run = FineTuneRun.objects.create(
        organization=organization, created_by=owner, base_version=version, dataset_version=data_version
    )
    # 2,000 loss points with one spike at step 1234, and 2,000 learning-rate points.
    RunMetric.objects.bulk_create(
        [RunMetric(run=run, step=s, name="loss", value=9.0 if s == 1234 else 1 / s) for s in range(1, 2001)]
        + [RunMetric(run=run, step=s, name="learning_rate", value=1e-4) for s in range(1, 2001)]
    )
    return run


def url(run, query: str = "") -> str:
    return f"/api/v1/runs/{run.pk}/metrics/{query}"


def test_series_are_bounded_and_keep_the_extremes(api_client_for, owner, run):
    response = api_client_for(owner).get(url(run, "?name=loss&max_points=100"))
    assert response.status_code == 200, response.content
    series = response.json()["series"]
    assert list(series) == ["loss"]
    loss = series["loss"]
    assert len(loss) <= 100
    steps = [step for step, _ in loss]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert loss[0] == [1, 1.0] and loss[-1][0] == 2000
    assert [1234, 9.0] in loss  # the spike survives down-sampling


def test_default_is_every_series_with_the_default_bound(api_client_for, owner, run):
    series = api_client_for(owner).get(url(run)).json()["series"]
    assert set(series) == {"loss", "learning_rate"}
    assert all(len(points) <= MAX_POINTS_PER_SERIES for points in series.values())


def test_several_names_and_a_short_series_is_returned_whole(api_client_for, owner, run):
    RunMetric.objects.create(run=run, step=1, name="validation_accuracy", value=0.7)
    series = api_client_for(owner).get(url(run, "?name=validation_accuracy&name=nothing")).json()["series"]
    assert series == {"validation_accuracy": [[1, 0.7]]}


@pytest.mark.parametrize("query", ["?max_points=2", "?max_points=many", "?max_points=1000000"])
def test_bad_max_points_is_a_400_naming_the_field(api_client_for, owner, run, query):
    response = api_client_for(owner).get(url(run, query))
    assert response.status_code == 400
    assert "max_points" in response.json()


def test_a_run_of_another_organization_is_not_found(api_client_for, run):
    stranger = MembershipFactory(organization=OrganizationFactory(), user=UserFactory(), role=Role.OWNER).user
    assert api_client_for(stranger).get(url(run, "?max_points=2")).status_code == 404


def test_min_max_buckets():
    points = [[step, float(step % 7)] for step in range(100)]
    kept = min_max_buckets(points, 12)
    assert len(kept) <= 12
    assert kept[0] == points[0] and kept[-1] == points[-1]
    assert {value for _, value in kept[1:-1]} == {0.0, 6.0}  # each bucket's lowest and highest
    assert min_max_buckets(points, 100) is points
