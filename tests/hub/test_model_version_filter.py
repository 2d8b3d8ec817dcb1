"""Listing one model's versions: by id, with no lookup that would tell a hidden model from a missing one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import ModelVersion, RegisteredModel, Visibility
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def models(organization, owner):
    mine = RegisteredModel.objects.create(organization=organization, slug="mine", name="Mine", license="MIT")
    hidden = RegisteredModel.objects.create(
        organization=OrganizationFactory(slug="other"), slug="hidden", name="Hidden", license="MIT",
        visibility=Visibility.PRIVATE,
    )  # fmt: skip
    for model in (mine, hidden):
        for number in (1, 2):
            ModelVersion.objects.create(model=model, number=number, origin="upload")
    return mine, hidden


def test_versions_of_one_model(api_client_for, owner, models):
    mine, _ = models
    body = api_client_for(owner).get(f"/api/v1/model-versions/?model={mine.pk}").json()
    assert body["count"] == 2
    assert {version["model"] for version in body["results"]} == {"acme/mine"}


def test_a_hidden_model_answers_like_a_missing_one(api_client_for, owner, models):
    _, hidden = models
    client = api_client_for(owner)
    with CaptureQueriesContext(connection) as queries:
        hidden_answer = client.get(f"/api/v1/model-versions/?model={hidden.pk}")
    missing_answer = client.get("/api/v1/model-versions/?model=999999")
    assert hidden_answer.status_code == missing_answer.status_code == 200
    assert hidden_answer.json() == missing_answer.json() == {
        "count": 0, "next": None, "previous": None, "results": [],
    }  # fmt: skip
    # The token, the count and the page: the model is not looked up on its own.
    assert not any(q["sql"].startswith('SELECT "hub_registeredmodel"') for q in queries.captured_queries)


def test_a_model_id_that_is_not_a_number_is_refused(api_client_for, owner, models):
    answer = api_client_for(owner).get("/api/v1/model-versions/?model=abc")
    assert answer.status_code == 400
    assert "model" in answer.json()
