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


def test_a_page_reads_its_rows_by_key_alone(api_client_for, owner, runs):
    """The page's keys pass the filters once; the rows are then read by primary key only, with the
    names of their versions, but not the versions' JSON."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_client_for(owner)
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/api/v1/runs/?status=succeeded").json()
    statements = [query["sql"] for query in queries.captured_queries]
    run_selects = [sql for sql in statements if sql.startswith('SELECT "training_finetunerun"."id", ')]
    assert len(run_selects) == 1, run_selects
    rows = run_selects[0]
    assert '"training_finetunerun"."id" IN (' in rows and "succeeded" not in rows
    version_selects = [sql for sql in statements if 'FROM "hub_modelversion"' in sql]
    assert version_selects and all('"tensor_summary"' not in sql for sql in version_selects)
    assert [run["base_version"] for run in body["results"]] == ["acme/base@v1"] * 25
