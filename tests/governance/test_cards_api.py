"""The model card API: /api/v1/model-cards/<version id>/ and its README.md, who may read and write."""

from __future__ import annotations

import pytest
import yaml
from rest_framework.test import APIClient

from governance import cards
from governance.models import ModelCard
from hub.datasheets import MAX_SECTION_CHARS
from hub.models import AccessToken, Role, Visibility
from tests.factories import MembershipFactory, OrganizationFactory
from tests.governance.test_cards import OWNER_PROSE, PROSE, add_report, make_fine_tune, parse_readme


@pytest.fixture
def fine_tune(organization, dataset_version):
    version = make_fine_tune(organization, dataset_version)
    add_report(version, dataset_version)
    return version


def url(version, suffix: str = "") -> str:
    return f"/api/v1/model-cards/{version.pk}/{suffix}"


def test_the_card_reads_with_completeness_checklist_sections_and_readme(fine_tune, owner, api_client_for):
    body = api_client_for(owner).get(url(fine_tune)).json()
    assert body["version"] == "acme/sentiment@v2" and body["version_id"] == fine_tune.pk
    assert body["completeness"] == pytest.approx(9 / 13)
    assert [item["key"] for item in body["checklist"]] == [*cards.SECTION_KEYS, "license", "base_model",
                                                           "datasets", "evaluation_results"]  # fmt: skip
    assert {item["key"]: item["done"] for item in body["checklist"]}["intended_use"] is False
    assert set(body["checklist"][0]) >= {"item", "done"}
    assert body["sections"] == {key: "" for key in cards.SECTION_KEYS}
    assert "Per class" in body["generated"]["quantitative_analyses"]
    assert "intended_use" not in body["generated"]
    metadata, _ = parse_readme(body["readme"])
    assert metadata["model-index"][0]["results"][0]["metrics"][0] == {
        "type": "accuracy", "value": 0.92, "name": "Accuracy"
    }  # fmt: skip


def test_an_owner_replaces_and_patches_the_sections(fine_tune, owner, api_client_for):
    api = api_client_for(owner)
    response = api.put(url(fine_tune), {"sections": OWNER_PROSE}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["completeness"] == 1.0
    assert response.json()["sections"]["intended_use"] == PROSE

    patched = api.patch(url(fine_tune), {"sections": {"factors": "TBD"}}, format="json")
    assert patched.status_code == 200
    assert patched.json()["completeness"] == pytest.approx(12 / 13)
    assert ModelCard.objects.get(model_version=fine_tune).sections == {**OWNER_PROSE, "factors": "TBD"}

    # PUT replaces every section; the sections may also come at the top level.
    replaced = api.put(url(fine_tune), {"intended_use": PROSE}, format="json")
    assert replaced.status_code == 200
    assert ModelCard.objects.get(model_version=fine_tune).sections == {"intended_use": PROSE}


@pytest.mark.parametrize(
    ("sections", "field"),
    [
        ({"intended_use": PROSE, "vibes": "good"}, "vibes"),
        ({"factors": ["a", "list"]}, "factors"),
        ({"caveats_and_recommendations": "x" * (MAX_SECTION_CHARS + 1)}, "caveats_and_recommendations"),
    ],
)
def test_a_refused_section_is_a_400_naming_it(fine_tune, owner, api_client_for, sections, field):
    api = api_client_for(owner)
    for method in (api.put, api.patch):
        response = method(url(fine_tune), {"sections": sections}, format="json")
        assert response.status_code == 400
        assert field in response.json()
    assert not ModelCard.objects.filter(model_version=fine_tune).exists()


def test_sections_that_are_not_an_object_are_refused(fine_tune, owner, api_client_for):
    response = api_client_for(owner).put(url(fine_tune), {"sections": "all good"}, format="json")
    assert response.status_code == 400 and "sections" in response.json()


def test_who_may_not_write_gets_403(fine_tune, owner, organization, member_of, api_client_for):
    viewer = api_client_for(member_of(organization, Role.VIEWER))
    read_token = api_client_for(owner, scope=AccessToken.Scope.READ)
    other_org = MembershipFactory(organization=OrganizationFactory(slug="globex"), user=owner).organization
    restricted = api_client_for(owner, organization=other_org)
    assert viewer.get(url(fine_tune)).status_code == 200
    assert viewer.put(url(fine_tune), {"sections": OWNER_PROSE}, format="json").status_code == 403
    assert viewer.patch(url(fine_tune), {"sections": OWNER_PROSE}, format="json").status_code == 403
    assert read_token.put(url(fine_tune), {"sections": OWNER_PROSE}, format="json").status_code == 403
    assert restricted.put(url(fine_tune), {"sections": OWNER_PROSE}, format="json").status_code == 404
    assert not ModelCard.objects.filter(model_version=fine_tune).exists()


def test_an_outsider_reads_a_public_card_but_may_not_write_it(organization, dataset_version, api_client_for):
    version = make_fine_tune(organization, dataset_version, visibility=Visibility.PUBLIC)
    outsider = api_client_for(MembershipFactory(organization=OrganizationFactory(), role=Role.OWNER).user)
    assert outsider.get(url(version)).status_code == 200
    assert outsider.put(url(version), {"sections": OWNER_PROSE}, format="json").status_code == 403
    anonymous = APIClient()
    assert anonymous.get(url(version)).status_code == 200
    assert anonymous.put(url(version), {"sections": OWNER_PROSE}, format="json").status_code in (401, 403)


def test_a_version_the_user_cannot_see_is_404(fine_tune, api_client_for):
    outsider = api_client_for(MembershipFactory(organization=OrganizationFactory(), role=Role.OWNER).user)
    assert outsider.get(url(fine_tune)).status_code == 404
    assert outsider.put(url(fine_tune), {"sections": OWNER_PROSE}, format="json").status_code == 404
    assert outsider.get(url(fine_tune, "readme/")).status_code == 404
    assert APIClient().get(url(fine_tune)).status_code == 404
    assert outsider.get("/api/v1/model-cards/999999/").status_code == 404


def test_the_readme_endpoint_returns_markdown(fine_tune, owner, api_client_for):
    response = api_client_for(owner).get(url(fine_tune, "readme/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="README.md"'
    metadata, body = parse_readme(response.content.decode())
    assert metadata["base_model"] == "acme/minilm" and "## Quantitative analyses" in body


def test_the_openapi_schema_documents_the_card_endpoints(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    detail = schema["paths"]["/api/v1/model-cards/{version_id}/"]
    assert {"get", "put", "patch"} <= set(detail)
    readme = schema["paths"]["/api/v1/model-cards/{version_id}/readme/"]["get"]
    assert "text/markdown" in readme["responses"]["200"]["content"]
    assert detail["get"]["parameters"][0]["schema"]["type"] == "integer"
    update = schema["components"]["schemas"]["ModelCardUpdateRequest"]["properties"]["sections"]
    assert update["allOf"] == [{"$ref": "#/components/schemas/ModelCardSectionsRequest"}]
    sections = schema["components"]["schemas"]["ModelCardSectionsRequest"]["properties"]
    assert list(sections) == list(cards.SECTION_KEYS)
