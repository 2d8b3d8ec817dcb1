"""The access API: asking, deciding, withdrawing and revoking over REST, and what a grant opens."""

from __future__ import annotations

import pytest

from governance.models import AccessGrant, AccessMode, AccessRequest, PolicyCheck
from hub.models import AccessToken, Role, Visibility
from tests.factories import MembershipFactory, OrganizationFactory
from tests.governance.test_access import CONDITIONS, gate

REQUESTS = "/api/v1/access-requests/"
GRANTS = "/api/v1/access-grants/"


@pytest.fixture
def world(make_dataset_version, organization, member_of):
    dataset = make_dataset_version(visibility=Visibility.PUBLIC).dataset
    gate(dataset)
    beta = OrganizationFactory(slug="beta")
    return {
        "dataset": dataset,
        "beta": beta,
        "beta_writer": member_of(beta, Role.MEMBER, username="beta-writer"),
        "acme_admin": member_of(organization, Role.ADMIN, username="acme-admin"),
        "acme_member": member_of(organization, Role.MEMBER, username="acme-member"),
        "outsider": member_of(OrganizationFactory(slug="gamma"), Role.OWNER, username="outsider"),
    }


def body(artifact, **overrides) -> dict:
    return {
        "organization": "beta",
        "dataset": artifact.pk,
        "intended_use": ["research"],
        "purpose": "Benchmark our models.",
        "accept_conditions": True,
        **overrides,
    }


def ask(client, artifact, **overrides):
    return client.post(REQUESTS, body(artifact, **overrides), format="json")


def test_create_and_list(world, api_client_for):
    beta = api_client_for(world["beta_writer"])
    response = ask(beta, world["dataset"])
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "pending" and created["artifact"] == "acme/reviews"
    assert created["artifact_kind"] == "dataset" and created["organization"] == "beta"
    assert created["policy_version"] == "acme/gated@v1" and created["grant"] is None

    for user, count in (("beta_writer", 1), ("acme_member", 1), ("outsider", 0)):
        listed = api_client_for(world[user]).get(REQUESTS).json()
        assert listed["count"] == count, user
    owner_filtered = api_client_for(world["acme_member"]).get(
        REQUESTS, {"owner": "acme", "status": "pending"}
    )
    assert owner_filtered.json()["count"] == 1


def test_create_errors_name_the_field(world, api_client_for):
    beta = api_client_for(world["beta_writer"])
    refused = ask(beta, world["dataset"], accept_conditions=False)
    assert refused.status_code == 400 and CONDITIONS in refused.json()["accept_conditions"][0]
    assert "intended_use" in ask(beta, world["dataset"], intended_use=["nonsense"]).json()
    assert "dataset" in ask(beta, world["dataset"], dataset=None).json()
    both = beta.post(REQUESTS, {**body(world["dataset"]), "model": 1}, format="json")
    assert both.status_code == 400 and "dataset" in both.json()
    assert ask(beta, world["dataset"], dataset=999999).json()["dataset"][0].startswith("no such dataset")
    assert ask(beta, world["dataset"], organization="nope").status_code == 400
    OrganizationFactory(slug="elsewhere")
    assert ask(beta, world["dataset"], organization="elsewhere").status_code == 403  # not its writer


def test_prohibited_use_is_refused_at_once(world, api_client_for):
    version = world["dataset"].policy_attachment.policy.versions.get()
    gate(world["dataset"], number=2, policy=version.policy, prohibited_uses=["production"])
    response = ask(api_client_for(world["beta_writer"]), world["dataset"], intended_use=["production"])
    assert response.status_code == 201
    assert response.json()["status"] == "refused" and "production" in response.json()["reason"]


def test_tokens_are_checked(world, api_client_for):
    read_only = api_client_for(world["beta_writer"], scope=AccessToken.Scope.READ)
    assert ask(read_only, world["dataset"]).status_code == 403
    gamma = MembershipFactory(user=world["beta_writer"]).organization
    restricted = api_client_for(world["beta_writer"], organization=gamma)
    assert ask(restricted, world["dataset"]).status_code == 403
    assert ask(api_client_for(world["beta_writer"]), world["dataset"]).status_code == 201
    access_request = AccessRequest.objects.get()
    admin_read_only = api_client_for(world["acme_admin"], scope=AccessToken.Scope.READ)
    assert admin_read_only.post(f"{REQUESTS}{access_request.pk}/approve/").status_code == 403


def test_decisions(world, api_client_for):
    ask(api_client_for(world["beta_writer"]), world["dataset"])
    pk = AccessRequest.objects.get().pk
    approve = f"{REQUESTS}{pk}/approve/"
    assert api_client_for(world["acme_member"]).post(approve).status_code == 403
    assert api_client_for(world["beta_writer"]).post(approve).status_code == 403
    assert api_client_for(world["outsider"]).post(approve).status_code == 404
    admin = api_client_for(world["acme_admin"])
    missing_reason = admin.post(f"{REQUESTS}{pk}/refuse/", {}, format="json")
    assert missing_reason.status_code == 400 and "reason" in missing_reason.json()
    blank_reason = admin.post(f"{REQUESTS}{pk}/refuse/", {"reason": " "}, format="json")
    assert blank_reason.status_code == 400 and "reason" in blank_reason.json()

    approved = admin.post(approve, {"reason": "Welcome aboard."}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved" and approved.json()["reason"] == "Welcome aboard."
    grant = AccessGrant.objects.get()
    assert approved.json()["grant"] == grant.pk
    again = admin.post(approve)
    assert again.status_code == 400 and "status" in again.json()
    assert PolicyCheck.objects.get().outcome == "allowed"


def test_refuse_then_cool_down(world, api_client_for):
    beta = api_client_for(world["beta_writer"])
    ask(beta, world["dataset"])
    pk = AccessRequest.objects.get().pk
    refused = api_client_for(world["acme_admin"]).post(
        f"{REQUESTS}{pk}/refuse/", {"reason": "Not for competitors."}, format="json"
    )
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    again = ask(beta, world["dataset"])
    assert again.status_code == 400 and "may ask again from" in again.json()["organization"][0]


def test_withdraw(world, api_client_for):
    ask(api_client_for(world["beta_writer"]), world["dataset"])
    pk = AccessRequest.objects.get().pk
    assert api_client_for(world["acme_admin"]).post(f"{REQUESTS}{pk}/withdraw/").status_code == 403
    response = api_client_for(world["beta_writer"]).post(f"{REQUESTS}{pk}/withdraw/")
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"


def test_a_grant_opens_a_private_dataset_until_revoked(world, api_client_for):
    dataset = world["dataset"]
    beta = api_client_for(world["beta_writer"])
    ask(beta, dataset)
    dataset.visibility = Visibility.PRIVATE
    dataset.save()
    dataset_file = dataset.versions.get().files.get(split="train")
    detail, download = f"/api/v1/datasets/{dataset.pk}/", f"/files/datasets/{dataset_file.pk}/"
    assert beta.get(detail).status_code == 404 and beta.get(download).status_code == 404

    admin = api_client_for(world["acme_admin"])
    admin.post(f"{REQUESTS}{AccessRequest.objects.get().pk}/approve/")
    assert beta.get(detail).status_code == 200
    assert [item["slug"] for item in beta.get("/api/v1/datasets/").json()["results"]] == ["reviews"]
    assert beta.get("/api/v1/dataset-versions/").json()["count"] == 1
    assert beta.get(download).status_code == 200

    grants = beta.get(GRANTS, {"active": "true"}).json()
    assert grants["count"] == 1 and grants["results"][0]["organization"] == "beta"
    grant_pk = grants["results"][0]["id"]
    assert beta.post(f"{GRANTS}{grant_pk}/revoke/", {"reason": "Mine."}, format="json").status_code == 403
    no_reason = admin.post(f"{GRANTS}{grant_pk}/revoke/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    revoked = admin.post(f"{GRANTS}{grant_pk}/revoke/", {"reason": "Project over."}, format="json")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert revoked.json()["revoke_reason"] == "Project over."
    assert beta.get(detail).status_code == 404 and beta.get(download).status_code == 404
    assert beta.get(GRANTS, {"active": "false"}).json()["count"] == 1


def test_gated_downloads_over_the_api_say_why(world, api_client_for):
    dataset_file = world["dataset"].versions.get().files.get(split="train")
    response = api_client_for(world["outsider"]).get(f"/files/datasets/{dataset_file.pk}/")
    assert response.status_code == 403
    assert "/o/acme/datasets/reviews/access/" in response.json()["detail"]


def test_listed_mode_requests_are_refused_with_the_reason(world, api_client_for):
    policy = world["dataset"].policy_attachment.policy
    gate(world["dataset"], number=2, policy=policy, mode=AccessMode.LISTED)
    response = ask(api_client_for(world["beta_writer"]), world["dataset"])
    assert response.status_code == 400 and "only listed organizations" in response.json()["dataset"][0]
