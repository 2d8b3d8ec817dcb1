"""List pages: search, filters and pagination, the same for datasets and models."""

from __future__ import annotations

import pytest

from hub.models import Dataset, RegisteredModel, Visibility


@pytest.fixture
def many_models(organization, owner):
    for number in range(30):
        RegisteredModel.objects.create(
            organization=organization, slug=f"model-{number:02d}", name=f"Model {number}", created_by=owner,
            license="MIT" if number % 2 else "Apache-2.0", visibility=Visibility.PUBLIC,
            task="text-classification" if number < 25 else "token-classification",
        )  # fmt: skip


def test_model_list_paginates_and_keeps_filters(client, many_models):
    first = client.get("/models/")
    assert first.context["page"].paginator.count == 30
    assert len(first.context["models"]) == 25
    mit = client.get("/models/?license=MIT&page=2")  # 15 fit on one page: page 2 falls back to the last
    assert mit.context["page"].paginator.count == 15
    assert mit.context["page"].number == 1
    assert all(m.license == "MIT" for m in client.get("/models/?license=mit").context["models"])
    tasks = client.get("/models/?task=token-classification").context["models"]
    assert {m.slug for m in tasks} == {f"model-{n}" for n in range(25, 30)}
    searched = client.get("/models/?q=model-0").context["models"]
    assert {m.slug for m in searched} == {f"model-0{n}" for n in range(10)}


def test_model_list_pages_link_with_their_filters(client, many_models):
    page = client.get("/models/?visibility=public")
    assert page.context["page"].has_next()
    assert b"visibility=public&amp;page=2" in page.content


def test_list_pages_make_a_bounded_number_of_queries(client, organization, owner, many_models,
                                                    django_assert_max_num_queries):  # fmt: skip
    for number in range(30):
        Dataset.objects.create(
            organization=organization, slug=f"d-{number}", name=f"D {number}", license="MIT",
            visibility=Visibility.PUBLIC, created_by=owner,
        )  # fmt: skip
    client.force_login(owner)
    for url in ("/models/", "/datasets/", "/o/acme/", "/"):
        with django_assert_max_num_queries(15):
            assert client.get(url).status_code == 200
