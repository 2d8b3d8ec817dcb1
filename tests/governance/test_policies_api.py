"""The policies API: /api/v1/policies/, who sees and writes which policy, versions, attach and detach."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from governance.models import AuditEvent, Policy
from governance.services.policies import attach_policy, create_policy
from hub.models import AccessToken, Dataset, Membership, RegisteredModel, Role, Visibility
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/policies/"


@pytest.fixture
def admin(organization, member_of):
    return member_of(organization, Role.ADMIN, username="admin")


@pytest.fixture
def member(organization, member_of):
    return member_of(organization, Role.MEMBER, username="member")


@pytest.fixture
def dataset(organization):
    return Dataset.objects.create(
        organization=organization, slug="reviews", name="Reviews", license="CC-BY-4.0"
    )


@pytest.fixture
def policy(owner, organization):
    terms = {"license": "CC-BY-4.0", "allowed_uses": ["research"], "max_delta": 0.2}
    return create_policy(user=owner, organization=organization, slug="research", name="Research", terms=terms)


def test_an_admin_creates_a_policy_and_reads_it_with_its_versions(admin, api_client_for):
    api = api_client_for(admin)
    body = {"organization": "acme", "slug": "strict", "name": "Strict", "license": "apache-2.0",
            "prohibited_uses": ["medical-advice"], "max_objective": 0.3, "alpha": 0.5, "beta": 0.25,
            "gamma": 0.25}  # fmt: skip
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["organization"] == "acme" and created["url"].endswith("/o/acme/policies/strict/")
    assert created["current_version"]["number"] == 1
    assert created["current_version"]["license"] == "Apache-2.0"
    assert created["current_version"]["prohibited_uses"] == ["medical-advice"]
    assert created["current_version"]["commercial_use"] is True  # a default
    assert created["versions"][0]["changes"] == []
    assert AuditEvent.objects.get(action="policy.create").channel == "api"

    read = api.get(f"{URL}{created['id']}/").json()
    assert read["current_version"]["alpha"] == 0.5 and len(read["versions"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"license": "no-such-licence"}, "license"),
        ({"license": "MIT", "allowed_uses": ["mind-reading"]}, "allowed_uses"),
        ({"license": "MIT", "alpha": 0.5, "beta": 0.5, "gamma": 0.5}, "alpha"),
        ({"license": "MIT", "max_theta": 1.5}, "max_theta"),
        ({"license": "MIT", "access_mode": "listed"}, "listed_organizations"),
        ({"license": "MIT", "access_mode": "secret"}, "access_mode"),
        ({"license": "MIT", "request_cooldown_days": -1}, "request_cooldown_days"),
        ({}, "license"),
    ],
)
def test_bad_terms_are_a_400_naming_the_field(admin, api_client_for, body, field):
    response = api_client_for(admin).post(
        URL, {"organization": "acme", "slug": "p", "name": "P", **body}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not Policy.objects.exists()


def test_members_may_not_create_and_outsiders_name_no_organization(member, api_client_for):
    body = {"organization": "acme", "slug": "p", "name": "P", "license": "MIT"}
    assert api_client_for(member).post(URL, body, format="json").status_code == 403
    response = api_client_for(UserFactory()).post(URL, body, format="json")
    assert response.status_code == 400 and "organization" in response.json()
    assert APIClient().post(URL, body, format="json").status_code in (401, 403)


def test_a_new_version_through_the_api(policy, admin, api_client_for):
    api = api_client_for(admin)
    response = api.post(
        f"{URL}{policy.pk}/versions/", {"max_delta": 0.1, "change_note": "stricter"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["number"] == 2 and response.json()["license"] == "CC-BY-4.0"
    versions = api.get(f"{URL}{policy.pk}/").json()["versions"]
    assert [version["number"] for version in versions] == [2, 1]
    assert versions[0]["changes"] == [{"field": "max_delta", "before": 0.2, "after": 0.1}]

    unchanged = api.post(f"{URL}{policy.pk}/versions/", {"max_delta": 0.1}, format="json")
    assert unchanged.status_code == 400 and "terms" in unchanged.json()
    bad = api.post(f"{URL}{policy.pk}/versions/", {"max_delta": 3}, format="json")
    assert bad.status_code == 400 and "max_delta" in bad.json()


def test_nothing_updates_a_policy_or_a_version(policy, owner, api_client_for):
    api = api_client_for(owner)
    for method in (api.put, api.patch, api.delete):
        assert method(f"{URL}{policy.pk}/", {"name": "Other"}, format="json").status_code == 405
    for method in (api.get, api.put, api.patch, api.delete):
        assert method(f"{URL}{policy.pk}/versions/", {"max_delta": 0.5}, format="json").status_code == 405
    assert policy.versions.get().max_delta == 0.2


def test_attach_and_detach_through_the_api(policy, admin, member, dataset, api_client_for):
    api = api_client_for(admin)
    response = api.post(f"{URL}{policy.pk}/attach/", {"dataset": "acme/reviews"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["datasets"] == ["acme/reviews"]
    assert Dataset.objects.get(pk=dataset.pk).policy_attachment.policy == policy

    assert api_client_for(member).post(f"{URL}{policy.pk}/detach/", {"dataset": "acme/reviews"},
                                       format="json").status_code == 403  # fmt: skip
    response = api.post(f"{URL}{policy.pk}/detach/", {"dataset": "acme/reviews"}, format="json")
    assert response.status_code == 200 and response.json()["datasets"] == []
    again = api.post(f"{URL}{policy.pk}/detach/", {"dataset": "acme/reviews"}, format="json")
    assert again.status_code == 400 and "dataset" in again.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "acme/missing"}, "dataset"),
        ({"model": "nonsense"}, "model"),
        ({"dataset": "acme/reviews", "model": "acme/x"}, "non_field_errors"),
        ({}, "non_field_errors"),
    ],
)
def test_a_bad_artifact_reference_is_a_400(policy, owner, dataset, api_client_for, body, field):
    response = api_client_for(owner).post(f"{URL}{policy.pk}/attach/", body, format="json")
    assert response.status_code == 400 and field in response.json()


def test_attaching_across_organizations_is_refused(policy, owner, member_of, api_client_for):
    globex = OrganizationFactory(slug="globex")
    RegisteredModel.objects.create(organization=globex, slug="m", name="M", license="MIT")
    Membership.objects.create(organization=globex, user=owner, role=Role.OWNER)
    response = api_client_for(owner).post(f"{URL}{policy.pk}/attach/", {"model": "globex/m"}, format="json")
    assert response.status_code == 400 and "model" in response.json()
    outsider = member_of(globex, Role.OWNER)
    response = api_client_for(outsider).post(
        f"{URL}{policy.pk}/attach/", {"model": "globex/m"}, format="json"
    )
    assert response.status_code == 404  # acme's policy governs nothing the outsider sees


def test_who_lists_which_policies(policy, owner, member, dataset, api_client_for):
    assert [item["slug"] for item in api_client_for(member).get(URL).json()["results"]] == ["research"]
    outsider = api_client_for(UserFactory())
    assert outsider.get(URL).json()["results"] == []
    assert outsider.get(f"{URL}{policy.pk}/").status_code == 404
    attach_policy(user=owner, policy=policy, artifact=dataset)
    Dataset.objects.filter(pk=dataset.pk).update(visibility=Visibility.PUBLIC)
    listed = outsider.get(URL).json()["results"]
    assert [item["slug"] for item in listed] == ["research"] and listed[0]["datasets"] == ["acme/reviews"]
    assert APIClient().get(f"{URL}{policy.pk}/").status_code == 200


def test_a_read_token_may_not_write(policy, owner, api_client_for):
    api = api_client_for(owner, scope=AccessToken.Scope.READ)
    assert api.post(f"{URL}{policy.pk}/versions/", {"max_delta": 0.1}, format="json").status_code == 403


def test_the_use_tag_vocabulary(api_client_for, owner):
    tags = api_client_for(owner).get(f"{URL}use-tags/").json()
    assert {"tag": "medical-advice", "title": "Medical advice or interpretation of medical results"} in tags
