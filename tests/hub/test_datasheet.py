"""The datasheet (dataset card): completeness, the edit page and the API, and who may edit."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from hub import datasheets
from hub.models import AccessToken, Dataset, Role
from hub.services.datasets import Upload, create_dataset, update_datasheet
from tests.conftest import demo_csv_bytes

PROSE = "Collected from public product reviews to study sentiment classification."
FULL = {key: PROSE for key in datasheets.SECTION_KEYS}


@pytest.fixture
def dataset(owner, organization) -> Dataset:
    content = demo_csv_bytes(40)
    upload = Upload("r.csv", SimpleUploadedFile("r.csv", content), len(content))
    return create_dataset(user=owner, organization=organization, slug="reviews", name="Reviews",
                          license="CC-BY-4.0", upload=upload, text_field="text",
                          label_field="label").dataset  # fmt: skip


@pytest.mark.parametrize(
    "text",
    ["TBD", "TODO: write the motivation of this dataset", "n/a", "-", "Lorem ipsum dolor sit amet, more"],
)
def test_placeholders_do_not_count(text):
    assert not datasheets.is_filled(text)


def test_short_prose_does_not_count_and_twenty_characters_do():
    assert not datasheets.is_filled("Made by us.")
    assert datasheets.is_filled("Made by the Acme lab")  # 20 characters
    assert datasheets.is_filled("None of the texts identify people.")


def test_completeness_counts_seven_sections_a_licence_and_a_schema():
    full = datasheets.completeness(FULL, "CC-BY-4.0", schema_declared=True)
    assert (full.filled, full.required, full.score, full.missing) == (9, 9, 1.0, [])
    partial = datasheets.completeness({**FULL, "uses": "TBD", "maintenance": "Us."}, "Made-Up", False)
    assert partial.filled == 5
    assert [item.key for item in partial.missing] == ["uses", "maintenance", "license", "schema"]
    assert partial.score == pytest.approx(5 / 9)


def test_a_dataset_with_a_version_has_its_schema_declared(dataset):
    card = datasheets.dataset_completeness(dataset)
    assert card.filled == 2 and len(card.missing) == 7


def test_the_service_refuses_unknown_sections_and_long_text(dataset, owner):
    with pytest.raises(ValidationError) as caught:
        update_datasheet(owner, dataset, {"motivation": PROSE, "vibes": "good"})
    assert "vibes" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        update_datasheet(owner, dataset, {"motivation": "x" * (datasheets.MAX_SECTION_CHARS + 1)})
    assert "motivation" in caught.value.message_dict


def test_a_writer_edits_the_datasheet_page_and_the_dataset_page_shows_it(dataset, owner, client):
    client.force_login(owner)
    url = "/o/acme/datasets/reviews/datasheet/"
    page = client.get(url)
    assert page.status_code == 200
    assert "For what purpose was the dataset created?" in page.content.decode()
    response = client.post(url, {**FULL, "uses": "TBD"})
    assert response.status_code == 302
    dataset.refresh_from_db()
    assert dataset.datasheet["motivation"] == PROSE and dataset.datasheet["uses"] == "TBD"
    detail = client.get(dataset.get_absolute_url()).content.decode()
    assert "8 of 9 items" in detail and "89% complete" in detail and "Policy: none attached" in detail


def test_a_viewer_may_not_edit_the_page(dataset, organization, member_of, client):
    client.force_login(member_of(organization, Role.VIEWER))
    assert client.get("/o/acme/datasets/reviews/datasheet/").status_code == 403
    assert client.post("/o/acme/datasets/reviews/datasheet/", FULL).status_code == 403
    dataset.refresh_from_db()
    assert dataset.datasheet == {}


def test_the_api_reads_and_replaces_the_datasheet(dataset, owner, api_client_for):
    api = api_client_for(owner)
    url = f"/api/v1/datasets/{dataset.pk}/datasheet/"
    before = api.get(url).json()
    assert before["completeness"] == pytest.approx(2 / 9) and before["motivation"] == ""
    response = api.put(url, FULL, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["completeness"] == 1.0 and response.json()["missing"] == []
    refused = api.put(url, {"motivation": PROSE, "vibes": "good"}, format="json")
    assert refused.status_code == 400 and "vibes" in refused.json()


def test_a_viewer_and_a_read_token_get_403_from_the_api(
    dataset, owner, organization, member_of, api_client_for
):
    url = f"/api/v1/datasets/{dataset.pk}/datasheet/"
    viewer = api_client_for(member_of(organization, Role.VIEWER))
    read_token = api_client_for(owner, scope=AccessToken.Scope.READ)
    assert viewer.get(url).status_code == 200
    assert viewer.put(url, FULL, format="json").status_code == 403
    assert read_token.put(url, FULL, format="json").status_code == 403
    dataset.refresh_from_db()
    assert dataset.datasheet == {}
