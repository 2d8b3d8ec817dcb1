"""The run list's pages: the same runs in the same order as the query gives them, page after page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from training.models import FineTuneRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(organization, owner, run_inputs):
    version, data_version = run_inputs
    now = timezone.now()
    statuses = [FineTuneRun.Status.SUCCEEDED, FineTuneRun.Status.FAILED, FineTuneRun.Status.SUCCEEDED]
    created = FineTuneRun.objects.bulk_create(
        FineTuneRun(
            organization=organization,
            created_by=owner,
            base_version=version,
            dataset_version=data_version,
            status=statuses[number % 3],
        )
        for number in range(70)
    )
    for number, run in enumerate(created):  # auto_now_add: dates set after the insert, shuffled
        FineTuneRun.objects.filter(pk=run.pk).update(created_at=now - timedelta(hours=(number * 37) % 70))
    return created


def test_pages_follow_the_order_of_the_list(api_client_for, owner, runs):
    client = api_client_for(owner)
    expected = list(
        FineTuneRun.objects.filter(status="succeeded").order_by("-created_at").values_list("pk", flat=True)
    )
    seen = []
    for page in (1, 2):
        body = client.get(f"/api/v1/runs/?status=succeeded&page={page}").json()
        assert body["count"] == len(expected) == 47
        seen += [run["id"] for run in body["results"]]
        assert all(run["base_version"] == "acme/base@v1" for run in body["results"])
    assert seen == expected[:50]
    assert client.get("/api/v1/runs/?status=succeeded&page=3").status_code == 404
    assert client.get("/api/v1/runs/?status=succeeded&page=x").status_code == 404
